"""polyteam.telemetry / attempts / runlog / capture without sockets: the nil cost with no tracer
provider, the chat span of each attempt through the gateway's wrapper stack (retry, fallback,
re-ask, budget refusal), content only on opt-in, and redaction in spans, log lines and captured calls."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_gateway import MESSAGES, BudgetMeter, ScriptedProvider, done, endpoint, err, gateway_for

from canary import OPENAI_API_KEY, assert_no_canary
from polyteam import telemetry
from polyteam.attempts import AttemptScope
from polyteam.errors import BudgetExceededError, QuotaExhaustedError, ServerError
from polyteam.providers.base import CallOptions, Message
from polyteam.redact import register_secret
from polyteam.runlog import RedactingFormatter, StderrHandler


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.util._once import Once

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    trace.set_tracer_provider(provider)
    yield memory
    provider.shutdown()


def test_importing_the_library_does_not_import_opentelemetry() -> None:
    code = "import sys, polyteam.gateway, polyteam.team, polyteam.telemetry; print('opentelemetry' in sys.modules)"
    done_ = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert done_.returncode == 0, done_.stderr
    assert done_.stdout.strip() == "False"


def test_no_tracer_provider_means_no_tracer_and_no_span(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry import trace
    from opentelemetry.util._once import Once

    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)  # the API's proxy provider
    assert telemetry.tracer() is None
    scope = AttemptScope(endpoint("a"), MESSAGES, CallOptions(), None, None)
    scope.begin()
    assert scope.span is None
    scope.end(done())  # no span, no log level, no capture: nothing happens, nothing fails


async def test_one_chat_span_per_attempt_with_retry_fallback_and_budget(exporter: Any) -> None:
    providers = {
        "a": ScriptedProvider(endpoint("a"), [err(ServerError), err(QuotaExhaustedError)]),
        "b": ScriptedProvider(endpoint("b", fallback=()), [done("from b", model="b-v2")]),
    }
    providers["a"].endpoint = endpoint("a", fallback=("b",))
    gw, _sleeps = gateway_for(providers, {}, "a")
    answer = await gw.ask("ProductManager", "WritePRD", MESSAGES)
    assert answer.llm == "b"
    spans = exporter.get_finished_spans()
    assert [s.attributes["polyteam.attempt.kind"] for s in spans] == ["first", "retry", "fallback"]
    first, retry, fallback = spans
    assert first.attributes["error.type"] == "ServerError"
    assert first.attributes["polyteam.error.kind"] == "server_error"
    assert retry.attributes["polyteam.previous.error"] == "server_error"
    assert retry.attributes["error.type"] == "QuotaExhaustedError"
    assert fallback.attributes["polyteam.fallback"] is True
    assert fallback.attributes["polyteam.previous.llm"] == "a"
    assert fallback.attributes["gen_ai.response.model"] == "b-v2"
    assert fallback.attributes["gen_ai.usage.input_tokens"] == 3
    assert fallback.attributes["gen_ai.usage.output_tokens"] == 2
    assert {s.attributes["polyteam.call_id"] for s in spans} == {gw.attempts[0].call_id}
    assert [s.attributes["polyteam.attempt"] for s in spans] == [r.attempt for r in gw.attempts]

    exporter.clear()
    refused, _ = gateway_for({"a": ScriptedProvider(endpoint("a"))}, {}, "a", meter=BudgetMeter(allowed=0))
    with pytest.raises(BudgetExceededError):
        await refused.ask("ProductManager", "WritePRD", MESSAGES)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "BudgetExceededError" and not refused.attempts


async def test_a_second_ask_on_the_same_call_is_a_reask(exporter: Any) -> None:
    """An attempt on the same LLM after an answer within one call is marked a re-ask (the
    structured stage's re-ask, once it runs inside one gateway call)."""
    from polyteam.gateway import _CALL, _Call

    provider = ScriptedProvider(endpoint("a"), [done("bad"), done("good")])
    gw, _ = gateway_for({"a": provider}, {}, "a")
    stack = gw._stack("a")
    token = _CALL.set(_Call(role="Architect", action="WriteDesign"))
    try:
        await stack.complete(MESSAGES, CallOptions())
        await stack.complete(MESSAGES, CallOptions())
    finally:
        _CALL.reset(token)
    kinds = [s.attributes["polyteam.attempt.kind"] for s in exporter.get_finished_spans()]
    assert kinds == ["first", "reask"]


async def test_content_is_on_spans_only_when_opted_in_and_redacted(
    exporter: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_secret(OPENAI_API_KEY)
    leaky = [Message("system", "be brief"), Message("user", f"my key is {OPENAI_API_KEY}")]
    gw, _ = gateway_for({"a": ScriptedProvider(endpoint("a"), [done(f"echo {OPENAI_API_KEY}")])}, {}, "a")
    await gw.ask("ProductManager", "WritePRD", leaky)
    (span,) = exporter.get_finished_spans()
    assert "gen_ai.input.messages" not in span.attributes

    exporter.clear()
    monkeypatch.setenv(telemetry.CAPTURE_CONTENT_ENV, "true")
    gw, _ = gateway_for({"a": ScriptedProvider(endpoint("a"), [done(f"echo {OPENAI_API_KEY}")])}, {}, "a")
    await gw.ask("ProductManager", "WritePRD", leaky)
    (span,) = exporter.get_finished_spans()
    sent = json.loads(span.attributes["gen_ai.input.messages"])
    assert sent == [{"role": "user", "parts": [{"type": "text", "content": "my key is ***"}]}]
    assert json.loads(span.attributes["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "be brief"}
    ]
    assert json.loads(span.attributes["gen_ai.output.messages"])[0]["parts"][0]["content"] == "echo ***"
    assert_no_canary(span.to_json(), "span")


def test_log_lines_are_redacted_and_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    register_secret(OPENAI_API_KEY)
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)  # the handler writes to whatever stderr is now
    handler = StderrHandler()
    handler.setFormatter(RedactingFormatter("%(message)s"))
    logger = logging.getLogger("polyteam.test-redaction")
    logger.propagate = False  # only our handler sees the raw record (pytest's capture would keep it)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("failed: key %s\nsecond line", OPENAI_API_KEY)
    finally:
        logger.removeHandler(handler)
    assert stream.getvalue() == "failed: key *** | second line\n"


async def test_capture_writes_one_redacted_file_per_attempt(tmp_path: Path) -> None:
    register_secret(OPENAI_API_KEY)
    providers = {"a": ScriptedProvider(endpoint("a"), [err(ServerError), done(f"reply {OPENAI_API_KEY}")])}
    gw, _ = gateway_for(providers, {}, "a")
    calls = tmp_path / "calls"

    async def ask() -> Any:
        return await telemetry.in_action(
            "Engineer", "WriteCode", "WriteCode:src/app.py",
            gw.ask("Engineer", "WriteCode", [Message("user", f"key {OPENAI_API_KEY}")]),
        )  # fmt: skip

    await telemetry.in_workflow(ask(), project=lambda: tmp_path, resumed=False, calls_dir=lambda: calls)
    files = sorted(p.name for p in calls.iterdir())
    assert files == ["0001-WriteCode-src-app.py-a-a1.json", "0002-WriteCode-src-app.py-a-a2.json"]
    failed, answered = (json.loads((calls / f).read_text()) for f in files)
    assert failed["ok"] is False and failed["error"] == "server_error" and failed["reply"] is None
    assert answered["ok"] is True and answered["reply"] == "reply ***"
    assert answered["messages"] == [{"role": "user", "content": "key ***"}]
    assert answered["key"] == "WriteCode:src/app.py" and answered["attempt_kind"] == "retry"
    for name in files:
        assert_no_canary((calls / name).read_text(), name)


async def test_a_streamed_attempt_gets_its_chat_span_and_a_broken_one_fails_it(exporter: Any) -> None:
    provider = ScriptedProvider(endpoint("a"), [(["par", "tial"], err(ServerError)), done("two words")])
    gw, _ = gateway_for({"a": provider}, {}, "a")
    pieces: list[str] = []
    answer = await gw.ask("Engineer", "WriteCode", MESSAGES, on_delta=pieces.append)
    assert answer.completion.text == "two words"
    broken, good = exporter.get_finished_spans()
    assert broken.attributes["error.type"] == "ServerError"
    assert good.attributes["polyteam.attempt.kind"] == "retry"
    assert good.attributes["gen_ai.usage.output_tokens"] == 2
    assert good.attributes["gen_ai.response.finish_reasons"] == ("stop",)
