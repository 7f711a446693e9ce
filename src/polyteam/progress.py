"""What `polyteam run` shows while the team works: one line per role, live or as plain log lines.

Owns turning `RunEvent`s into a per-role view (state, the LLM serving it, tokens, elapsed) and
two renderers: a rich live table when stdout is a terminal, plain timestamped lines otherwise
(CI logs, pipes). `--quiet` shows neither. The final summary is `commands/run.py`'s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from polyteam.redact import redact
from polyteam.team.message import RunEvent
from polyteam.team.roles import STANDARD_ROLES
from polyteam.terminal import printable

#: the rows of the live display, in the roster's order (a role outside it gets a row when it first acts)
ROLE_ORDER = tuple(role.name for role in STANDARD_ROLES)


@dataclass
class RoleView:
    role: str
    state: str = "waiting"
    llms: list[str] = field(default_factory=list)
    active: dict[str, str] = field(default_factory=dict)  # key -> llm of actions in flight
    finished: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    started: float | None = None
    ended: float | None = None

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return (self.ended if self.ended is not None and not self.active else now) - self.started


class ProgressModel:
    """The per-role view, updated from run events."""

    def __init__(self) -> None:
        self.roles: dict[str, RoleView] = {r: RoleView(r) for r in ROLE_ORDER}
        self.t0 = time.monotonic()

    def view(self, role: str) -> RoleView:
        return self.roles.setdefault(role, RoleView(role))

    def apply(self, event: RunEvent) -> None:
        v = self.view(event.role)
        if event.kind == "start":
            if v.started is None:
                v.started = event.ts
            v.state = "working"
            v.active[event.key] = event.llm
            if event.llm and event.llm not in v.llms:
                v.llms.append(event.llm)
        elif event.kind == "end":
            v.active.pop(event.key, None)
            v.finished += 1
            v.input_tokens += event.input_tokens
            v.output_tokens += event.output_tokens
            v.ended = event.ts
            if event.llm and event.llm not in v.llms:
                v.llms.append(event.llm)
        elif event.kind == "cached":
            v.cached += 1
            if event.llm and event.llm not in v.llms:
                v.llms.append(event.llm)
        elif event.kind == "role":
            if event.detail == "working" and v.started is None:
                v.started = event.ts
            if event.detail in ("done", "stopped", "failed", "interrupted"):
                v.active.clear()
                v.ended = event.ts
            v.state = event.detail
        elif event.kind == "error":
            v.state = "failed"


def describe(event: RunEvent) -> str | None:
    """One plain log line for an event (None: not worth a line), redacted and safe for a terminal."""
    line = _describe(event)
    return None if line is None else printable(redact(line), keep_newlines=False)


def _describe(event: RunEvent) -> str | None:
    who = f"{event.role:<14}"
    if event.kind == "start":
        return f"{who} {event.key or event.action} -> {event.llm}"
    if event.kind == "end":
        return f"{who} {event.key or event.action} done by {event.llm} ({event.input_tokens}+{event.output_tokens} tokens)"
    if event.kind == "cached":
        return f"{who} {event.key or event.action} from the checkpoint (no call)"
    if event.kind == "written":
        return f"{who} wrote {event.detail}"
    if event.kind in ("skipped", "note"):
        return f"{who} {event.detail}"
    if event.kind == "error":
        return f"{who} FAILED {event.detail.splitlines()[0] if event.detail else ''}"
    return None


class PlainProgress:
    """Timestamped log lines on a console (stdout not a terminal)."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.t0 = time.monotonic()

    def __call__(self, event: RunEvent) -> None:
        line = describe(event)
        if line is not None:
            text = f"[{time.monotonic() - self.t0:7.1f}s] {redact(line)}"
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class LiveProgress:
    """A rich live table, one row per role, refreshed a few times a second."""

    def __init__(self, console: Any) -> None:
        from rich.live import Live

        self.console = console
        self.model = ProgressModel()
        self.live = Live(console=console, refresh_per_second=4, transient=False, get_renderable=self.render)
        self.messages: list[str] = []

    def __call__(self, event: RunEvent) -> None:
        self.model.apply(event)
        if event.kind in ("skipped", "error") or (event.kind == "note" and "corrected" not in event.detail):
            line = describe(event)
            if line:
                self.live.console.print(redact(line), markup=False, highlight=False)

    def render(self) -> Any:
        from rich.markup import escape  # file names in the keys are a model's: never rich markup
        from rich.table import Table

        now = time.monotonic()
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        for col in ("Role", "State", "LLM", "Tokens in/out", "Elapsed", "Now"):
            table.add_column(col, justify="right" if col in ("Tokens in/out", "Elapsed") else "left")
        for v in self.model.roles.values():
            style = {"working": "yellow", "done": "green", "failed": "red", "stopped": "red"}.get(
                v.state, "dim"
            )
            doing = escape(printable(", ".join(sorted(v.active)), keep_newlines=False)[:48])
            if v.cached:
                doing = (doing + " " if doing else "") + f"({v.cached} from checkpoint)"
            table.add_row(
                v.role,
                f"[{style}]{v.state}[/]",
                escape(printable(redact(", ".join(v.llms)), keep_newlines=False)) or "-",
                f"{v.input_tokens:,}/{v.output_tokens:,}",
                f"{v.elapsed(now):.1f}s",
                doing,
            )
        return table

    def __enter__(self) -> LiveProgress:
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()


class NoProgress:
    def __call__(self, event: RunEvent) -> None:
        return None

    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def make_progress(console: Any, *, quiet: bool) -> LiveProgress | PlainProgress | NoProgress:
    """The display for this run: none with --quiet, live on a terminal, plain lines otherwise."""
    if quiet:
        return NoProgress()
    if console.is_terminal:
        return LiveProgress(console)
    return PlainProgress(console)
