"""The run log: the `polyteam` stdlib logger, off until `-v`/`--verbose` or `POLYTEAM_LOG` turns it on.

Owns the logger's set-up (one handler on stderr, one line a record, every line through
`polyteam.redact`) and the names of its children. What is logged is decided where it happens:
each attempt in the gateway's `InstrumentedProvider` (via `polyteam.telemetry`), retries in
`RetryingProvider`, repairs, re-asks and fallbacks of a reply in the structured-output stage.

    polyteam -v run "..."            # debug: every attempt, retry, fallback, repair, re-ask
    POLYTEAM_LOG=info polyteam run   # the same from the environment (debug | info | warning | error)

A library user configures `logging.getLogger("polyteam")` as usual; nothing here runs on import.
The SDKs log on their own switches (docs/observability.md): OPENAI_LOG=debug, ANTHROPIC_LOG=debug,
and the `httpx` / `websockets` loggers.
"""

from __future__ import annotations

import logging
import sys

from polyteam.redact import redact

LOGGER_NAME = "polyteam"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def get_logger(part: str = "") -> logging.Logger:
    """The `polyteam` logger, or its child `polyteam.<part>`."""
    return logging.getLogger(f"{LOGGER_NAME}.{part}" if part else LOGGER_NAME)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks every secret (also in exception text) and keeps it to one line."""

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record))
        return text.replace("\r", " ").replace("\n", " | ")


class StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time (rich's live display swaps it while it runs)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # logging's own contract: a broken stream is reported, never raised
            self.handleError(record)


def enable(level: str = "debug") -> None:
    """Turn the run log on at `level` (a LEVELS name), once per process.

    Raises:
        UsageError: `level` is not a known level name (exit 2).
    """
    from polyteam.errors import UsageError

    number = LEVELS.get(level.strip().lower())
    if number is None:
        raise UsageError("POLYTEAM_LOG", level, "is not a log level", f"use one of {', '.join(LEVELS)}")
    logger = get_logger()
    logger.setLevel(number)
    if not any(isinstance(h, StderrHandler) for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(RedactingFormatter("polyteam %(asctime)s.%(msecs)03d %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.propagate = False
