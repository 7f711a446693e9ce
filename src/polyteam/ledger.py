"""The usage ledger, `<project>/.polyteam/ledger.jsonl`: its lines, appending them, reading them back.

Two kinds of line (DESIGN §4):
- `{"event": "started", attempt_id, call_id, reserved_usd, input_bound, max_tokens, price, ...}`,
  appended before an attempt is sent: a process killed while the attempt is in flight leaves it
  there, and whoever reads the ledger next counts it at its reservation ("in flight at stop");
- the attempt line (no `event`), appended when it ends, ok or not: tokens, `cost_usd`, price.

Reading validates every field it uses: a wrong-typed value is a `ConfigError` (one line naming the
file, the line and the field), never a traceback; a torn last line (kill -9 mid-write) is skipped
and counted. Pricing is `polyteam.prices`; the budget and the meter are `polyteam.cost`.
"""

from __future__ import annotations

import json
import math
import os
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyteam.errors import ConfigError, ConfigIssue

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

STARTED = "started"
_FIX = "the ledger is written by `polyteam run`: restore it, or delete the bad line to drop that record"

_STR = ("ts", "role", "action", "llm", "provider", "model", "base_url", "call_id", "attempt_id")
_FLAGS = ("ok", "estimated", "unpriced", "usage_out_of_range")
_COUNTS = ("input_tokens", "output_tokens", "attempt", "input_bound", "max_tokens")
_AMOUNTS = ("cost_usd", "latency_s", "reserved_usd")
_REQUIRED_ATTEMPT = ("ok", "input_tokens", "output_tokens", "cost_usd")
_REQUIRED_STARTED = ("attempt_id", "reserved_usd")


@dataclass
class LedgerContents:
    """A ledger read back: finished attempts, started lines by attempt id, skipped (torn) lines."""

    attempts: list[dict[str, Any]] = field(default_factory=list)
    started: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: int = 0

    @property
    def in_flight(self) -> list[dict[str, Any]]:
        """Started lines whose attempt never ended (the process stopped while they were in flight)."""
        finished = {str(row.get("attempt_id")) for row in self.attempts if row.get("attempt_id")}
        return [row for key, row in self.started.items() if key not in finished]

    @property
    def spent_usd(self) -> float:
        return sum(float(row["cost_usd"]) for row in self.attempts)

    @property
    def in_flight_usd(self) -> float:
        return sum(float(row["reserved_usd"]) for row in self.in_flight)


def _expected(key: str, value: Any) -> str | None:
    """What `key` should be when `value` is not it, else None."""
    if key in _STR:
        return None if isinstance(value, str) else "a string"
    if key in _FLAGS:
        return None if isinstance(value, bool) else "true or false"
    if key in _COUNTS:
        return (
            None
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0
            else "a whole number >= 0"
        )
    if key in _AMOUNTS:
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= 0
        )
        return None if ok else "a number >= 0"
    if key == "error":
        return None if value is None or isinstance(value, str) else "a string or null"
    return None


def _problem(row: dict[str, Any]) -> tuple[str, str] | None:
    started = row.get("event") == STARTED
    if "event" in row and not started:
        return "event", f'is {json.dumps(row["event"])[:40]}, not "started"'
    for key in _REQUIRED_STARTED if started else _REQUIRED_ATTEMPT:
        if key not in row:
            return key, "is missing"
    for key, value in row.items():
        expected = _expected(key, value)
        if expected is not None:
            return key, f"is {json.dumps(value)[:40]}, not {expected}"
    return None


def read_ledger(path: Path) -> LedgerContents:
    """The ledger's lines, validated; a missing file is an empty ledger.

    Raises:
        ConfigError: a line whose fields have the wrong type or range (one issue: the first such line).
    """
    contents = LedgerContents()
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return contents
    bad: list[ConfigIssue] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            contents.skipped += 1  # a killed run's torn line
            continue
        if not isinstance(row, dict):
            contents.skipped += 1
            continue
        problem = _problem(row)
        if problem is not None:
            bad.append(ConfigIssue(f"{path}:{number}", problem[0], problem[1], _FIX))
        elif row.get("event") == STARTED:
            contents.started[row["attempt_id"]] = row
        else:
            contents.attempts.append(row)
    if bad:
        first = bad[0]
        more = f" ({len(bad) - 1} more bad line(s))" if len(bad) > 1 else ""
        raise ConfigError([ConfigIssue(first.file, first.key, first.problem + more, first.fix)])
    return contents


class LedgerFile:
    """Appends whole lines to one ledger; never glues a line onto a killed run's torn tail.

    One `write` per line on a descriptor opened for appending (kept open, closed by `close` or when
    the ledger is collected: issue 15, an open and a close per line were five system calls), no
    fsync: the line is in the OS page cache when `append` returns, which a killed process (Ctrl-C,
    kill -9) cannot lose; an fsync per attempt would stall the event loop of every run in the
    process (issue 7). Callers serialise (the meter holds its lock).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._needs_newline = self._has_torn_tail()
        self._fd: int | None = None
        self._closer: weakref.finalize[Any, Any] | None = None

    def append(self, line: dict[str, Any]) -> None:
        data = (json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        if self._needs_newline:
            data = b"\n" + data
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _CLOEXEC, 0o666)
            self._closer = weakref.finalize(self, os.close, self._fd)
        self._needs_newline = True  # until the whole line is written (a full disk tears it)
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._needs_newline = False

    def close(self) -> None:
        """Close the descriptor (the next `append` opens the file again)."""
        if self._closer is not None:
            self._closer()
        self._fd, self._closer = None, None

    def _has_torn_tail(self) -> bool:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() == 0:
                    return False
                fh.seek(-1, os.SEEK_END)
                return fh.read(1) != b"\n"
        except FileNotFoundError:
            return False
