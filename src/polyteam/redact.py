"""The one place secrets are scrubbed from text that leaves the process.

Every key polyteam loads is registered here (`register_secret`), and everything printed,
logged, written to the ledger, state, reports or exception text passes through `redact`.
Patterns catch what was never registered: bearer tokens, JWTs, OpenAI-style keys and the
query of a signed Spark URL.
"""

from __future__ import annotations

import re
import threading
from typing import Any

MASK = "***"

_lock = threading.Lock()
_secrets: set[str] = set()

_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}"),  # JWT
    re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"),  # OpenAI / Anthropic style keys
    re.compile(r"(?i)((?:authorization|signature|api_key|x-api-key)[\"']?\s*[=:]\s*[\"']?)[^&\s\"',}]+"),
]


def register_secret(value: str | None) -> None:
    """Remember a secret so that `redact` masks it wherever it appears (also its parts around '.')."""
    if not value or len(value) < 4:
        return
    with _lock:
        _secrets.add(value)
        # zhipu keys are "id.secret": the secret half alone must not leak either
        for part in value.split("."):
            if len(part) >= 8:
                _secrets.add(part)


def redact(text: str) -> str:
    """`text` with every registered secret and every secret-looking token masked."""
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        else:
            text = pattern.sub(MASK, text)
    return text


def redact_obj(value: Any) -> Any:
    """Redact every string inside a JSON-like value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_obj(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_obj(v) for v in value]
    return value
