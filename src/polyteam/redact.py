"""The one place secrets are scrubbed from text that leaves the process.

Every key polyteam loads is registered here (`register_secret`), and everything printed,
logged, written to the ledger, state, reports or exception text passes through `redact`.
Patterns catch what was never registered: bearer tokens, JWTs, OpenAI/Anthropic-style keys,
Zhipu `id.secret` keys, `key=value` credentials (the query of a signed Spark URL among them)
and passwords inside URLs.
"""

from __future__ import annotations

import base64
import functools
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

MASK = "***"

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_re: re.Pattern[str] | None = None


def _keep_prefix(match: re.Match[str]) -> str:
    return match.group(1) + MASK


def _keep_around(match: re.Match[str]) -> str:
    return match.group(1) + MASK + match.group(2)


def _mask_all(match: re.Match[str]) -> str:
    return MASK


_PATTERNS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), _keep_prefix),
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}"), _mask_all),  # JWT
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), _mask_all),  # OpenAI / Anthropic style keys
    (re.compile(r"\b[0-9a-f]{32}\.[A-Za-z0-9]{10,}\b"), _mask_all),  # Zhipu id.secret
    # key=value / "key": "value" credentials (`authorization=` is the signed Spark URL's query);
    # the value must end at a delimiter so code such as `api_key = os.environ["X"]` stays intact
    (
        re.compile(
            r"(?i)((?<![A-Za-z])(?:authorization|signature|x-api-key|api[_-]?key|api[_-]?secret|apisecret|"
            r"api[_-]?password|access[_-]?token|client[_-]?secret|password|secret)[\"']?\s*[=:]\s*[\"']?)"
            r"[A-Za-z0-9._~+/=%*-]{4,}(?=$|[&\s\"',;)}\]])"
        ),
        _keep_prefix,
    ),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+(@)"), _keep_around),  # https://user:password@host
]


def _forms(value: str) -> set[str]:
    """A secret as it may appear: itself, URL-quoted, and inside a base64 `api_key="..."` (Spark)."""
    forms = {value, quote(value, safe="")}
    if value.count(".") == 1:  # zhipu keys are "id.secret": the secret half alone must not leak
        forms.update(part for part in value.split(".") if len(part) >= 8)
    # Spark's signed URL carries base64('api_key="KEY", ...'); its first whole groups hold the key
    encoded = base64.b64encode(f'api_key="{value}"'.encode()).decode()
    stable = len(f'api_key="{value}"') // 3 * 4
    if stable >= 16:
        forms.add(encoded[:stable])
    return forms


def register_secret(value: str | None) -> None:
    """Remember a secret so that `redact` masks it wherever it appears (also its parts around '.')."""
    global _secret_re
    if not value or len(value) < 4:
        return
    with _lock:
        before = len(_secrets)
        _secrets.update(_forms(value))
        if len(_secrets) != before:
            ordered = sorted(_secrets, key=len, reverse=True)  # longest first: no partial masks
            _secret_re = re.compile("|".join(re.escape(s) for s in ordered))


def redact(text: str) -> str:
    """`text` with every registered secret and every secret-looking token masked."""
    if not text:
        return text
    with _lock:
        secret_re = _secret_re
    if len(text) <= _CACHED_LEN:
        return _redact_cached(secret_re, text)
    return _redact(secret_re, text)


def _redact(secret_re: re.Pattern[str] | None, text: str) -> str:
    if secret_re is not None:
        text = secret_re.sub(MASK, text)
    for pattern, replace in _PATTERNS:
        text = pattern.sub(replace, text)
    return text


# Every checkpoint redacts the whole run state again, mostly the same short strings: remember recent
# results (issue 15: scale.py M=20, 4.2-4.4 -> 3.1-3.5 ms of CPU per request). The key holds the
# registered secrets' pattern, so a secret registered later never meets a result computed without it.
_CACHED_LEN = 4096
_redact_cached = functools.lru_cache(maxsize=4096)(_redact)


def redact_secrets(text: str) -> str:
    """`text` with every *registered* secret masked, nothing else: for a model's own output (code,
    docs), where the patterns of `redact` would also mask code such as `password = "..."`."""
    if not text:
        return text
    with _lock:
        secret_re = _secret_re
    return secret_re.sub(MASK, text) if secret_re is not None else text


def has_registered_secrets() -> bool:
    """Whether any secret is registered (nothing to mask in a model's output otherwise)."""
    with _lock:
        return _secret_re is not None


def redact_secrets_obj(value: Any) -> Any:
    """`redact_secrets` of every string inside a JSON-like value (dict keys too); tuples become lists.
    With no secret registered there is nothing to mask: `value` itself comes back."""
    if not has_registered_secrets():
        return value
    return _redact_secrets_walk(value)


def _redact_secrets_walk(value: Any) -> Any:
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, dict):
        return {
            (redact_secrets(k) if isinstance(k, str) else k): _redact_secrets_walk(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redact_secrets_walk(v) for v in value]
    return value


def redact_obj(value: Any) -> Any:
    """Redact every string inside a JSON-like value (dict keys too); tuples become lists."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {(redact(k) if isinstance(k, str) else k): redact_obj(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_obj(v) for v in value]
    return value
