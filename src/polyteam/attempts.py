"""One attempt at one endpoint, observed: its chat span, its run-log line and its captured call.

`AttemptScope` is what the gateway's `InstrumentedProvider` drives for every attempt (first try,
retry, re-ask or fallback): the span follows the GenAI conventions (`polyteam.telemetry` owns the
tracer, the span tree and the content switch), the line goes to the `polyteam.gateway` logger, the
prompt and reply to `polyteam.capture` when the run asked for `--capture`. Everything is redacted.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from polyteam.redact import redact
from polyteam.telemetry import (
    PROVIDER_NAMES,
    capture_content,
    current_action_key,
    current_run,
    decision,
    record_error,
    tracer,
)

log = logging.getLogger("polyteam.gateway")

CostFn = Callable[[Any, int, int], "float | None"]


def meter_cost(meter: Any) -> CostFn | None:
    """`cost(endpoint, input_tokens, output_tokens)` in USD priced as the meter prices the ledger
    (its `quote`), or None when the meter cannot say."""
    quote = getattr(meter, "quote", None)
    if quote is None:
        return None

    def cost(endpoint: Any, input_tokens: int, output_tokens: int) -> float | None:
        try:
            price = quote(endpoint).price
        except AttributeError:  # a meter wrapping one that cannot quote (a test's): no cost shown
            return None
        # cost.cost_usd's formula, as the ledger line rounds it (cost.py is a floor above this one)
        return round((input_tokens * price.input + output_tokens * price.output) / 1_000_000, 10)

    return cost


def log_retry(endpoint: Any, error: BaseException, wait: float) -> None:
    """The retry layer's decision, one line (and an event on the current span)."""
    kind = getattr(error, "kind", type(error).__name__)
    decision(
        "retry", f"{endpoint.llm} [{endpoint.model}] again in {wait:.2f}s after {kind}", llm=endpoint.llm
    )


class AttemptScope:
    """One attempt at one endpoint, seen from outside its budget check and ledger line.

    `call` is the gateway's per-ask record (role, action, call_id, attempts so far, the previous
    attempt's LLM and outcome), None for a stack used on its own. `begin` starts the chat span
    (not yet current), `active()` makes it current for the SDK's own spans, `end` sets the outcome,
    ends the span, logs the line and captures the call.
    """

    def __init__(
        self, endpoint: Any, messages: list[Any], options: Any, call: Any, cost: CostFn | None
    ) -> None:
        self.endpoint = endpoint
        self.messages = messages
        self.options = options
        self.call = call
        self.cost = cost
        self.span: Any = None
        self.number = (call.attempts + 1) if call is not None else 0
        self.how = self._how(call, endpoint)
        self.key = current_action_key() or (call.action if call is not None else "")
        self._started = time.perf_counter()

    @staticmethod
    def _how(call: Any, endpoint: Any) -> str:
        """first | retry (same LLM after a failure) | reask (same LLM after an answer) | fallback."""
        last = getattr(call, "last_llm", "") if call is not None else ""
        if not last:
            return "first"
        if last != endpoint.llm:
            return "fallback"
        return "reask" if call.last_ok else "retry"

    def begin(self) -> None:
        found = tracer()
        if found is None:
            return
        from opentelemetry.trace import SpanKind

        endpoint, call = self.endpoint, self.call
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": PROVIDER_NAMES.get(endpoint.kind, endpoint.kind),
            "gen_ai.request.model": endpoint.model,
            "gen_ai.request.max_tokens": int(self.options.max_tokens),
            "polyteam.llm": endpoint.llm,
            "polyteam.provider": endpoint.kind,
            "polyteam.attempt": self.number,
            "polyteam.attempt.kind": self.how,
            **_server(endpoint.base_url),
        }
        if self.options.temperature is not None:
            attributes["gen_ai.request.temperature"] = float(self.options.temperature)
        if call is not None:
            attributes.update(
                {
                    "gen_ai.agent.name": call.role,
                    "polyteam.action.name": call.action,
                    "polyteam.action.key": redact(self.key),
                    "polyteam.call_id": call.call_id,
                }
            )
            if self.how in ("retry", "fallback", "reask"):
                attributes[f"polyteam.{self.how}"] = True
                attributes["polyteam.previous.llm"] = call.last_llm
                attributes["polyteam.previous.error"] = call.last_error or ""
        if capture_content():
            attributes.update(_content_attributes(self.messages))
        self.span = found.start_span(f"chat {endpoint.model}", kind=SpanKind.CLIENT, attributes=attributes)
        if self.how != "first":
            self.span.add_event(f"polyteam.{self.how}", {"polyteam.previous.llm": call.last_llm})

    @contextmanager
    def active(self) -> Iterator[None]:
        """The chat span as the current span (the SDKs' own spans nest under it)."""
        if self.span is None:
            yield
            return
        from opentelemetry.trace import use_span

        with use_span(self.span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            yield

    def end(self, completion: Any | None, error: BaseException | None = None) -> None:
        """Record the outcome on the span, the call record, the run log and the capture."""
        ok = completion is not None and error is None
        kind = _error_kind(error)
        cost = None
        wanted = self.span is not None or log.isEnabledFor(logging.INFO)
        if completion is not None and ok and self.cost is not None and wanted:
            cost = self.cost(self.endpoint, completion.input_tokens, completion.output_tokens)
        if self.span is not None:
            self._finish_span(completion if ok else None, error, cost)
        if log.isEnabledFor(logging.INFO):
            log.info("%s", self._line(completion if ok else None, kind, error, cost))
        if self.call is not None:
            self.call.last_llm, self.call.last_ok, self.call.last_error = self.endpoint.llm, ok, kind
        scope = current_run()
        if scope is not None and scope.calls_dir is not None:
            from polyteam.capture import write_call

            write_call(scope, self, completion, kind)

    def _finish_span(self, completion: Any | None, error: BaseException | None, cost: float | None) -> None:
        span = self.span
        if completion is not None:
            span.set_attribute("gen_ai.response.model", completion.model or self.endpoint.model)
            span.set_attribute("gen_ai.usage.input_tokens", int(completion.input_tokens))
            span.set_attribute("gen_ai.usage.output_tokens", int(completion.output_tokens))
            if completion.finish_reason:
                span.set_attribute("gen_ai.response.finish_reasons", [completion.finish_reason])
            request_id = getattr(completion, "request_id", None)
            if request_id:
                span.set_attribute("gen_ai.response.id", redact(request_id))
            if completion.estimated:
                span.set_attribute("polyteam.usage.estimated", True)
            if cost is not None:
                span.set_attribute("polyteam.cost_usd", cost)
            if capture_content():
                span.set_attribute("gen_ai.output.messages", _output_json(completion))
        elif error is not None:
            record_error(span, error)
        span.end()

    def _line(
        self, completion: Any | None, kind: str | None, error: BaseException | None, cost: float | None
    ) -> str:
        endpoint, call = self.endpoint, self.call
        who = f"{call.role}/{self.key}" if call is not None else "-"
        how = "" if self.how == "first" else f" ({self.how} after {call.last_llm} {call.last_error or 'ok'})"
        head = f"attempt {self.number} {who} -> {endpoint.llm} [{endpoint.kind} {endpoint.model}]{how}"
        took = time.perf_counter() - self._started
        if completion is None:
            text = redact(str(error)).splitlines()[0] if error is not None and str(error) else ""
            rid = getattr(error, "request_id", None)
            return f"{head}: failed {kind} in {took:.2f}s: {text}" + (f" id={rid}" if rid else "")
        price = f" ${cost:.6f}" if cost is not None else ""
        rid = getattr(completion, "request_id", None)
        extra = f" finish={completion.finish_reason}" if completion.finish_reason else ""
        extra += f" id={rid}" if rid else ""
        return (
            f"{head}: ok {completion.input_tokens}+{completion.output_tokens} tokens"
            f"{' (estimated)' if completion.estimated else ''} in {took:.2f}s{price}{extra}"
        )


def _server(base_url: str) -> dict[str, Any]:
    """The conventions' server.address / server.port of a base URL (never its credentials or query)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            return {}
        found: dict[str, Any] = {"server.address": parts.hostname}
        if parts.port:
            found["server.port"] = parts.port
    except ValueError:  # a base that is not a URL (local://model.gguf has no host either)
        return {}
    return found


def _error_kind(error: BaseException | None) -> str | None:
    if error is None:
        return None
    kind = getattr(error, "kind", None)
    if isinstance(kind, str):
        return kind
    return (
        "cancelled" if type(error).__name__ in ("CancelledError", "GeneratorExit") else type(error).__name__
    )


def _content_attributes(messages: list[Any]) -> dict[str, str]:
    """The conventions' gen_ai.system_instructions and gen_ai.input.messages, as JSON, redacted."""
    system = [{"type": "text", "content": redact(m.content)} for m in messages if m.role == "system"]
    chat = [
        {"role": m.role, "parts": [{"type": "text", "content": redact(m.content)}]}
        for m in messages
        if m.role != "system"
    ]
    found = {"gen_ai.input.messages": json.dumps(chat, ensure_ascii=False)}
    if system:
        found["gen_ai.system_instructions"] = json.dumps(system, ensure_ascii=False)
    return found


def _output_json(completion: Any) -> str:
    message = {
        "role": "assistant",
        "parts": [{"type": "text", "content": redact(completion.text)}],
        "finish_reason": completion.finish_reason or "stop",
    }
    return json.dumps([message], ensure_ascii=False)
