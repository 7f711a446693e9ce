"""The emulator's request-log record as the shared contract states it (imported by the emulator tests)."""

from __future__ import annotations

#: the keys of one log line, in the order they are written (docs/emulator.md, "Request log")
LOG_FIELDS = (
    "ts_start", "ts_end", "protocol", "path", "model", "stream", "status", "fault",
    "prompt_tokens", "completion_tokens", "tag",
)  # fmt: skip
