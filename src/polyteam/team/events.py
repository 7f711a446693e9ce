"""The run's event sink and its stop signal: what a role tells the display, and how a run stops.

`Events` forwards `RunEvent`s to the observer (the progress display) and keeps the notes for the
summary. `StopSignal` holds the first reason a run is stopping (a failure outranks a budget stop);
once set, no new action starts, but actions already in flight finish and are saved (DESIGN §1b).
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyteam.atomic import atomic_write_bytes
from polyteam.errors import PolyteamError
from polyteam.redact import redact
from polyteam.team.message import RunEvent

EventSink = Callable[[RunEvent], None]


class RunStopped(Exception):
    """Raised inside a role when the run is stopping; the reason is on the stop signal, not here."""


@dataclass
class Events:
    """Where a role's events go (`sink`, may be None) and the notes kept for the summary."""

    sink: EventSink | None = None
    notes: list[str] = field(default_factory=list)

    def emit(self, kind: str, role: str, **fields: Any) -> None:
        if self.sink is not None:
            self.sink(RunEvent(kind=kind, role=role, **fields))  # type: ignore[arg-type]

    def note(self, role: str, text: str) -> None:
        self.notes.append(text)
        self.emit("note", role, detail=text)


@dataclass
class StopReason:
    status: str  # "budget" | "failed"
    message: str
    error: BaseException | None = None


@dataclass
class StopSignal:
    """The run's stop: `request` it with the error; `reason` is the first (a failure outranks a budget)."""

    events: Events
    error_log: Path | None = None  # where an unexpected error's traceback is kept (redacted)
    reason: StopReason | None = None

    @property
    def stopping(self) -> bool:
        return self.reason is not None

    def request(self, status: str, exc: BaseException, role: str = "", action: str = "") -> None:
        """Stop the run gracefully: the first reason wins; a failure outranks a budget stop."""
        if isinstance(exc, PolyteamError):
            text = redact(str(exc))
        else:
            text = redact(f"{type(exc).__name__}: {exc}")
            self._log_traceback(exc)
        if action:
            text = f"{action}: {text}"
        if self.reason is None or (self.reason.status == "budget" and status == "failed"):
            self.reason = StopReason(status, text.splitlines()[0] if text else status, exc)
        self.events.emit("error" if status == "failed" else "note", role, action=action, detail=text)

    def _log_traceback(self, exc: BaseException) -> None:
        # an unexpected error is one line on screen; its traceback is kept for a bug report
        if self.error_log is None:
            return
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with contextlib.suppress(OSError):  # a full disk must not hide the error itself
            atomic_write_bytes(self.error_log, redact(text).encode("utf-8"))
