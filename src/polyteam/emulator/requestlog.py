"""The emulator's request log: one record per request, kept in memory and appended to a JSONL file.

Record keys (the emulator contract): ts_start, ts_end (time.time() floats), protocol, path, model,
stream, status, fault, prompt_tokens, completion_tokens, tag. Records never hold a header, a key, or
a query string (a signed Spark URL's query is a credential). The log also counts requests in flight
and lets a thread wait for a number of records, so tests wait on conditions instead of sleeping.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class Record:
    """One request, filled in while it is served."""

    protocol: str
    path: str
    ts_start: float
    ts_end: float | None = None
    model: str | None = None
    stream: bool = False
    status: int | None = None
    fault: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tag: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The record as logged (the contract's keys, in a stable order)."""
        data = asdict(self)
        order = (
            "ts_start",
            "ts_end",
            "protocol",
            "path",
            "model",
            "stream",
            "status",
            "fault",
            "prompt_tokens",
            "completion_tokens",
            "tag",
        )
        return {key: data[key] for key in order}


class RequestLog:
    """Finished records (`records`), requests in flight, and the optional JSONL file."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else None
        self.records: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight_seen = 0
        self._cond = threading.Condition()
        self._file = None
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")

    def begin(self, protocol: str, path: str) -> Record:
        """Start a record for a request that just arrived."""
        with self._cond:
            self.in_flight += 1
            self.max_in_flight_seen = max(self.max_in_flight_seen, self.in_flight)
            self._cond.notify_all()
        return Record(protocol=protocol, path=path, ts_start=time.time())

    def end(self, record: Record) -> dict[str, Any]:
        """Finish a record: stamp ts_end, keep it, append it to the file (once; later calls do nothing).

        Servers call this just before the last byte or frame of a reply goes out, so a client that has
        seen the end of its reply finds the record already logged.
        """
        with self._cond:
            if record.ts_end is not None:
                return record.as_dict()
            record.ts_end = time.time()
            data = record.as_dict()
            self.in_flight -= 1
            self.records.append(data)
            if self._file is not None:
                self._file.write(json.dumps(data, ensure_ascii=False) + "\n")
                self._file.flush()
            self._cond.notify_all()
        return data

    def wait_for(self, count: int, timeout: float = 10.0, *, in_flight: bool = False) -> bool:
        """Block (a thread, not the server's loop) until `count` records are logged, or until
        `count` requests are in flight with `in_flight=True`; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (self.in_flight if in_flight else len(self.records)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self) -> None:
        """Close the file (records stay in memory)."""
        with self._cond:
            if self._file is not None:
                self._file.close()
                self._file = None


def max_overlap(records: list[dict[str, Any]], model: str | None = None) -> int:
    """The largest number of these requests (of `model`, if given) that were in flight at once."""
    events: list[tuple[float, int]] = []
    for rec in records:
        if model is not None and rec.get("model") != model:
            continue
        events.append((rec["ts_start"], 1))
        events.append((rec["ts_end"] if rec.get("ts_end") is not None else rec["ts_start"], -1))
    # at equal timestamps an end comes before a start: back-to-back requests do not overlap
    events.sort(key=lambda e: (e[0], e[1]))
    current = best = 0
    for _, delta in events:
        current += delta
        best = max(best, current)
    return best
