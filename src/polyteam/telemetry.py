"""OpenTelemetry spans of a run, after the GenAI semantic conventions; the run log's attempt lines.

Spans nest as the work does (docs/observability.md):

    invoke_workflow polyteam                 the run            (`workflow`, from Team)
      invoke_agent <Role>                    one reaction       (`agent`, from Team)
        action <Action>                      one action's run   (`action`, from RunContext.act)
          chat <model>                       one attempt        (`polyteam.attempts.AttemptScope`,
                                                                  from gateway's InstrumentedProvider)

Attributes are the conventions' (`gen_ai.operation.name`, `gen_ai.agent.name`, `gen_ai.provider.name`,
`gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.response.id`, `gen_ai.response.finish_reasons`,
`gen_ai.usage.input_tokens` / `output_tokens`, `error.type`) plus `polyteam.*` ones (the LLM name, the
ledger's provider and call id, the attempt number, retry / re-ask / fallback, cost in USD). Prompt and
reply text go on the chat span only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT is true,
redacted like everything else here: no attribute or event carries a key.

With no tracer provider set the cost is nil: opentelemetry is never imported by this module unless
something else already did (a configured SDK always has), and a no-op or proxy provider means no
span is started at all. The run log (`polyteam.runlog`) gets one line per attempt from the same
place, and `polyteam.capture` one file per attempt when the run asked for it.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from polyteam.redact import redact

T = TypeVar("T")

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_TRUE = {"1", "true", "yes", "on", "span_only", "span_and_event"}
#: the ledger's provider kind -> the conventions' gen_ai.provider.name (their names where they have one)
PROVIDER_NAMES = {
    "openai": "openai",
    "claude": "anthropic",
    "zhipu": "zhipu_ai",
    "spark": "iflytek.spark",
    "open_llm": "open_llm",
    "local": "llama.cpp",
}

team_log = logging.getLogger("polyteam.team")

_cached: tuple[Any, Any] | None = None  # (tracer provider, our tracer)


@functools.cache
def _provider_from_env() -> bool:
    """Whether OTEL_PYTHON_TRACER_PROVIDER names a provider (read once, as OpenTelemetry reads it)."""
    return bool(os.environ.get("OTEL_PYTHON_TRACER_PROVIDER"))


def tracer() -> Any | None:
    """Our tracer when a real tracer provider is set, else None (and nothing is imported)."""
    global _cached
    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None:
        if not _provider_from_env():
            return None  # nothing imported OpenTelemetry: no provider can have been set
        import opentelemetry.trace

        trace = opentelemetry.trace
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    cached = _cached
    if cached is not None and cached[0] is provider:
        return cached[1]
    from polyteam import __version__

    found = provider.get_tracer("polyteam", __version__)
    _cached = (provider, found)
    return found


def capture_content() -> bool:
    """True when the user opted in to prompt and reply text on spans (the conventions' switch)."""
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in _TRUE


def record_error(span: Any, exc: BaseException) -> None:
    """Mark `span` failed with the error's class and a redacted one-line message (no traceback)."""
    from opentelemetry.trace import Status, StatusCode

    message = redact(str(exc)).splitlines()[0] if str(exc) else ""
    span.set_attribute("error.type", type(exc).__name__)
    kind = getattr(exc, "kind", None)
    if isinstance(kind, str):
        span.set_attribute("polyteam.error.kind", kind)
    span.add_event("exception", {"exception.type": type(exc).__name__, "exception.message": message})
    span.set_status(Status(StatusCode.ERROR, message[:200]))


@contextmanager
def _span(name: str, attributes: dict[str, Any], parent: Any = None) -> Iterator[Any]:
    """A current span named `name` (None without a tracer); an escaping error marks it failed.

    `parent`: the span to nest under instead of the current one; the current one is then linked.
    """
    found = tracer()
    if found is None:
        yield None
        return
    context = links = None
    if parent is not None:
        from opentelemetry import trace

        context = trace.set_span_in_context(parent)
        current = trace.get_current_span()
        if current.get_span_context().is_valid and current is not parent:
            links = [trace.Link(current.get_span_context(), {"polyteam.link": "published by"})]
    with found.start_as_current_span(
        name,
        context=context,
        links=links,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            record_error(span, exc)
            raise


# -- the run's scope: what every attempt of the run shares ----------------------------------------


@dataclass
class RunScope:
    """The run an attempt belongs to: where to capture calls (None: not asked for), a file counter."""

    calls_dir: Callable[[], Path] | None = None
    span: Any = None  # the workflow span: every reaction nests under it, whoever published its message
    seq: int = 0


_RUN: ContextVar[RunScope | None] = ContextVar("polyteam_run_scope", default=None)
_ACTION_KEY: ContextVar[str] = ContextVar("polyteam_action_key", default="")


def current_run() -> RunScope | None:
    return _RUN.get()


def current_action_key() -> str:
    """The checkpoint key of the action being run here ("WriteCode:main.py"), "" outside one."""
    return _ACTION_KEY.get()


async def in_workflow(
    work: Awaitable[T],
    *,
    project: Callable[[], Path],
    resumed: bool,
    calls_dir: Callable[[], Path] | None = None,
) -> T:
    """Await `work` (the team's drive) inside the run's span and scope.

    `project()`: the project folder (read again at the end: the PRD may have renamed it);
    `calls_dir`: where `--capture` writes each attempt's prompt and reply (None: off).
    """
    scope = RunScope(calls_dir=calls_dir)
    token = _RUN.set(scope)
    attributes = {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "polyteam",
        "gen_ai.agent.name": "polyteam",
        "polyteam.project": redact(str(project())),
        "polyteam.resumed": resumed,
    }
    try:
        with _span("invoke_workflow polyteam", attributes) as span:
            scope.span = span
            team_log.info("run started in %s%s", project(), " (resumed)" if resumed else "")
            try:
                return await work
            finally:
                if span is not None:
                    span.set_attribute("polyteam.project", redact(str(project())))
    finally:
        _RUN.reset(token)


async def in_agent(role: str, cause_by: str, work: Awaitable[T]) -> T:
    """Await `work` (one reaction of `role` to a `cause_by` message) inside an invoke_agent span."""
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": role,
        "polyteam.cause_by": cause_by,
    }
    # a reaction is scheduled from inside the publisher's action: nest it under the run, link the publisher
    scope = _RUN.get()
    with _span(f"invoke_agent {role}", attributes, parent=scope.span if scope is not None else None):
        return await work


async def in_action(role: str, action: str, key: str, work: Awaitable[T]) -> T:
    """Await `work` (one action's structured run) inside an action span; log its repairs and re-asks."""
    attributes = {
        "gen_ai.agent.name": role,
        "polyteam.action.name": action,
        "polyteam.action.key": redact(key),
    }
    token = _ACTION_KEY.set(key)
    try:
        with _span(f"action {action}", attributes) as span:
            result = await work
            if span is not None:
                _describe_result(span, result)
    finally:
        _ACTION_KEY.reset(token)
    _log_result(role, key, result)
    return result


def _describe_result(span: Any, result: Any) -> None:
    span.set_attribute("polyteam.llm", str(getattr(result, "llm", "") or ""))
    for name in ("calls", "repairs", "reasks", "fallbacks", "input_tokens", "output_tokens"):
        value = getattr(result, name, None)
        if isinstance(value, int):
            span.set_attribute(f"polyteam.{name}", value)


def _log_result(role: str, key: str, result: Any) -> None:
    """One line per finished action; its repairs, invalid replies and gate failures were logged
    as they happened (`decision`, from the structured-output stage)."""
    if not team_log.isEnabledFor(logging.INFO):
        return
    counts = ", ".join(
        f"{int(getattr(result, name, 0) or 0)} {label}"
        for name, label in (
            ("repairs", "repair(s)"),
            ("reasks", "re-ask(s)"),
            ("gate_failures", "gate failure(s)"),
            ("fallbacks", "fallback(s)"),
        )
    )
    team_log.info(
        "done %s/%s by %s: %s call(s), %s+%s tokens, %s%s",
        role,
        key,
        getattr(result, "llm", "?"),
        getattr(result, "calls", "?"),
        getattr(result, "input_tokens", "?"),
        getattr(result, "output_tokens", "?"),
        counts,
        " (degraded)" if getattr(result, "degraded", False) else "",
    )


def decision(kind: str, text: str, **attributes: str | int | float | bool) -> None:
    """One decision of the structured-output stage (repair, re-ask, gate): a log line and an event on
    the current span. `text` and string attributes are redacted."""
    text = redact(text)
    team_log.info("%s: %s", kind, text)
    if tracer() is None:
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        values = {k: redact(v) if isinstance(v, str) else v for k, v in attributes.items()}
        span.add_event(f"polyteam.{kind}", {"polyteam.detail": text, **values})
