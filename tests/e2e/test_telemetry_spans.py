"""The run's OpenTelemetry span tree (issue 16), with opentelemetry-sdk's in-memory exporter.

The whole team runs in-process against the emulator's team responder with five providers routed
(ProductManager -> openai, Architect -> claude, ProjectManager -> spark, Engineer -> zhipu,
WriteCode -> the MODEL_LIST model coder-7b) and faults that force retries on two wires. The tree
must be: one invoke_workflow span; one invoke_agent span per reaction under it; one action span
per action run under its agent; one chat span per attempt under its action, whose provider,
model, tokens, cost, request id and finish reason match that attempt's ledger line; the retries
marked on the attempts after a failure. No canary key anywhere in an attribute or an event, also
with prompt and reply content opted in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _support import REQUIREMENT, write_team_config

from canary import assert_no_canary
from polyteam.config import load_settings
from polyteam.team import Team

FAULTS = "500:2@WriteCode:main.py,429@WriteDesign"
PROVIDER_NAMES = {"openai", "anthropic", "iflytek.spark", "zhipu_ai", "open_llm"}


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A global SDK tracer provider exporting into memory, for this test only."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.util._once import Once

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    # the API allows one set_tracer_provider per process: give this test its own "once"
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    trace.set_tracer_provider(provider)
    yield memory
    provider.shutdown()


def _run_team(emu: Any, tmp_path: Path) -> tuple[Path, Any, list[Any]]:
    cfg = write_team_config(tmp_path / "cfg", emu.base_url)
    events: list[Any] = []
    team = Team.standard(load_settings(cfg, {}))
    project, summary = team.run(REQUIREMENT, workdir=tmp_path / "ws", on_event=events.append)
    assert summary.status == "done", summary.error
    return project, summary, events


def _ledger(project: Path) -> list[dict[str, Any]]:
    """The ledger's attempt lines (an "event" line, such as a started marker, is not an attempt)."""
    lines = (project / ".polyteam" / "ledger.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if "event" not in row]


def _by_operation(spans: list[Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {"invoke_workflow": [], "invoke_agent": [], "action": [], "chat": []}
    for span in spans:
        if span.instrumentation_scope.name != "polyteam":
            continue  # an SDK's own span (anthropic's) nests under our chat span
        op = span.attributes.get("gen_ai.operation.name") or (
            "action" if span.name.startswith("action ") else ""
        )
        found[op].append(span)
    return found


def _no_canary_in(spans: list[Any]) -> None:
    for span in spans:
        assert_no_canary(span.to_json(), f"span {span.name}")


def test_span_tree_matches_the_ledger_across_five_providers(
    make_emulator: Any, tmp_path: Path, exporter: Any
) -> None:
    emu = make_emulator(responder="team", faults=FAULTS, retry_after_ms=20)
    project, _summary, events = _run_team(emu, tmp_path)
    spans = list(exporter.get_finished_spans())
    ops = _by_operation(spans)

    # one workflow span, the root
    (workflow,) = ops["invoke_workflow"]
    assert workflow.parent is None and workflow.name == "invoke_workflow polyteam"
    assert workflow.attributes["polyteam.project"] == str(project)

    # one agent span per reaction, each a child of the workflow
    reactions = [e for e in events if e.kind == "role" and e.detail == "working"]
    assert len(ops["invoke_agent"]) == len(reactions) >= 4
    assert sorted(s.attributes["gen_ai.agent.name"] for s in ops["invoke_agent"]) == sorted(
        e.role for e in reactions
    )
    agents = {s.context.span_id: s for s in ops["invoke_agent"]}
    for agent in agents.values():
        assert agent.parent.span_id == workflow.context.span_id
        assert agent.name == f"invoke_agent {agent.attributes['gen_ai.agent.name']}"

    # one action span per action run, under the agent span of its role
    starts = [e for e in events if e.kind == "start"]
    assert len(ops["action"]) == len(starts)
    actions = {s.context.span_id: s for s in ops["action"]}
    for action in actions.values():
        agent = agents[action.parent.span_id]
        assert agent.attributes["gen_ai.agent.name"] == action.attributes["gen_ai.agent.name"]

    # one chat span per attempt, under its action, matching its ledger line
    ledger = _ledger(project)
    assert len(ops["chat"]) == len(ledger)
    chats = {(s.attributes["polyteam.call_id"], s.attributes["polyteam.attempt"]): s for s in ops["chat"]}
    assert len(chats) == len(ledger)
    for line in ledger:
        chat = chats[(line["call_id"], line["attempt"])]
        attrs = chat.attributes
        action = actions[chat.parent.span_id]
        assert action.attributes["polyteam.action.name"] == line["action"] == attrs["polyteam.action.name"]
        assert attrs["gen_ai.agent.name"] == line["role"]
        assert chat.name == f"chat {line['model']}"
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["polyteam.provider"] == line["provider"] and attrs["polyteam.llm"] == line["llm"]
        assert attrs["gen_ai.request.model"] == line["model"]
        if line["ok"]:
            assert attrs["gen_ai.usage.input_tokens"] == line["input_tokens"]
            assert attrs["gen_ai.usage.output_tokens"] == line["output_tokens"]
            assert attrs["gen_ai.response.model"]
            assert attrs["polyteam.cost_usd"] == pytest.approx(line["cost_usd"], abs=1e-9)
            assert line["request_id"] and attrs["gen_ai.response.id"] == line["request_id"]
            assert line["finish_reason"] and attrs["gen_ai.response.finish_reasons"] == (
                line["finish_reason"],
            )
            assert "error.type" not in attrs
        else:
            assert attrs["polyteam.error.kind"] == line["error"]
            assert attrs["error.type"] in ("ServerError", "RateLimitError")
            assert "gen_ai.usage.input_tokens" not in attrs
    assert {s.attributes["gen_ai.provider.name"] for s in ops["chat"]} == PROVIDER_NAMES
    # an SDK's own spans (the anthropic SDK makes one per request) nest under the attempt they belong to
    chat_ids = {s.context.span_id for s in ops["chat"]}
    for span in spans:
        if span.instrumentation_scope.name != "polyteam":
            assert span.parent is not None and span.parent.span_id in chat_ids, span.name

    # the retries are visible: after each failed attempt, the next one on that call is a retry
    failed = [line for line in ledger if not line["ok"]]
    assert {(f["action"], f["error"]) for f in failed} == {
        ("WriteCode", "server_error"),
        ("WriteDesign", "rate_limited"),
    }
    assert len(failed) == 3
    for line in failed:
        after = chats[(line["call_id"], line["attempt"] + 1)]
        assert after.attributes["polyteam.retry"] is True
        assert after.attributes["polyteam.attempt.kind"] == "retry"
        assert after.attributes["polyteam.previous.error"] == line["error"]
        assert any(e.name == "polyteam.retry" for e in after.events)
    retried = [s for s in ops["chat"] if s.attributes.get("polyteam.retry")]
    assert len(retried) == 3
    # the retry layer's decision is an event on the action span, once per retry
    retry_events = [e for s in ops["action"] for e in s.events if e.name == "polyteam.retry"]
    assert len(retry_events) == 3

    # no key anywhere, and no prompt or reply text unless opted in
    _no_canary_in(spans)
    for chat in ops["chat"]:
        assert "gen_ai.input.messages" not in chat.attributes
        assert "gen_ai.output.messages" not in chat.attributes


def test_message_content_only_when_opted_in_and_redacted(
    make_emulator: Any, tmp_path: Path, exporter: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    emu = make_emulator(responder="team")
    project, _summary, _events = _run_team(emu, tmp_path)
    spans = list(exporter.get_finished_spans())
    chats = _by_operation(spans)["chat"]
    assert len(chats) == len(_ledger(project))
    for chat in chats:
        sent = json.loads(chat.attributes["gen_ai.input.messages"])
        assert sent and all(
            m["role"] in ("user", "assistant") and m["parts"][0]["type"] == "text" for m in sent
        )
        reply = json.loads(chat.attributes["gen_ai.output.messages"])
        assert reply[0]["role"] == "assistant" and reply[0]["parts"][0]["content"]
    prd = next(c for c in chats if c.attributes["polyteam.action.name"] == "WritePRD")
    assert REQUIREMENT in prd.attributes["gen_ai.input.messages"]
    assert json.loads(prd.attributes["gen_ai.system_instructions"])[0]["content"]
    _no_canary_in(spans)
