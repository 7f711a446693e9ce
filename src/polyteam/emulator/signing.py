"""Server-side credential checks of the emulator: Spark's HMAC-signed URL and Zhipu's HS256 JWT.

Written from wire-protocols.md §2c/§2d (the client-side signing lives in polyteam/providers/ and is not
imported here, so the two are checked against each other and against the reference's test vectors).
Each check returns None when the credential is good, or a `Rejection` saying what the server answers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlencode

SPARK_MAX_SKEW_S = 300
_AUTH_FIELD = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


@dataclass(frozen=True)
class Rejection:
    """Why a credential is refused: HTTP status, a protocol-specific code, and the provider's message."""

    status: int
    message: str
    code: str | None = None


# --- Spark -------------------------------------------------------------------------------------------


def spark_signature(api_secret: str, host: str, date: str, path: str, method: str = "GET") -> str:
    """base64(HMAC-SHA256(api_secret, "host: H\\ndate: D\\nMETHOD PATH HTTP/1.1"))."""
    origin = f"host: {host}\ndate: {date}\n{method} {path} HTTP/1.1"
    digest = hmac.new(api_secret.encode(), origin.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def spark_rfc1123(ts: float | None = None) -> str:
    """A date in the RFC 1123 GMT form Spark signs, e.g. 'Fri, 23 Apr 2021 02:35:47 GMT'."""
    from datetime import datetime

    moment = datetime.fromtimestamp(time.time() if ts is None else ts, tz=UTC)
    return format_datetime(moment, usegmt=True)


def spark_sign_url(base_url: str, api_key: str, api_secret: str, date: str | None = None) -> str:
    """The signed URL for a Spark chat endpoint (the same recipe a client uses; for tests and tools)."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    date = date or spark_rfc1123()
    signature = spark_signature(api_secret, parts.netloc, date, parts.path or "/")
    origin = (
        f'api_key="{api_key}", algorithm="hmac-sha256", headers="host date request-line", '
        f'signature="{signature}"'
    )
    authorization = base64.b64encode(origin.encode()).decode()
    query = urlencode({"authorization": authorization, "date": date, "host": parts.netloc})
    return f"{parts.scheme}://{parts.netloc}{parts.path}?{query}"


def verify_spark_url(
    query: dict[str, str],
    request_host: str,
    path: str,
    secrets: dict[str, str] | None,
    now: float | None = None,
) -> Rejection | None:
    """Check a Spark handshake's query (authorization, date, host) like the real gateway.

    `secrets` maps api_key -> api_secret; None or empty accepts any api_key but still checks the date,
    the host and the shape of the authorization.
    """
    authorization = query.get("authorization")
    if not authorization:
        return Rejection(401, "Unauthorized")
    date = query.get("date", "")
    try:
        signed_at = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError, IndexError):
        signed_at = None
    now = time.time() if now is None else now
    if signed_at is None or abs(now - signed_at) > SPARK_MAX_SKEW_S:
        return Rejection(
            403,
            "HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication",
        )
    try:
        origin = base64.b64decode(authorization, validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return Rejection(401, "HMAC signature cannot be verified")
    # tolerant: the sparkai SDK leaves extra spaces before `headers=` (wire-protocols.md §2c)
    fields = dict(_AUTH_FIELD.findall(origin))
    api_key, signature = fields.get("api_key", ""), fields.get("signature", "")
    if not api_key or not signature or fields.get("algorithm", "hmac-sha256").lower() != "hmac-sha256":
        return Rejection(401, "HMAC signature cannot be verified")
    if fields.get("headers") and fields["headers"].split() != ["host", "date", "request-line"]:
        return Rejection(401, "HMAC signature cannot be verified")
    host = query.get("host") or request_host
    if not _same_host(host, request_host):
        return Rejection(401, "HMAC signature does not match")
    if not secrets:
        return None
    if api_key not in secrets:
        return Rejection(401, "HMAC signature cannot be verified")
    expected = spark_signature(secrets[api_key], host, date, path)
    if not hmac.compare_digest(expected, signature):
        return Rejection(401, "HMAC signature does not match")
    return None


def _same_host(signed: str, actual: str) -> bool:
    signed, actual = signed.lower(), actual.lower()
    if signed == actual:
        return True
    # a client may sign the bare host name; the port is then the only difference
    return ":" not in signed and actual.split(":")[0] == signed


# --- Zhipu -------------------------------------------------------------------------------------------


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verify_zhipu_token(
    authorization: str | None,
    secrets: dict[str, str] | None,
    now_ms: int | None = None,
) -> Rejection | None:
    """Check a Zhipu `Authorization` value: `Bearer <key|jwt>` or a bare `<key|jwt>`.

    The key is `id.secret`; the JWT is HS256 over the received `header.payload` bytes with
    `{"api_key": id, "exp": ms, "timestamp": ms}`. With `secrets` (id -> secret) None or empty,
    any non-empty value passes.
    """
    token = (authorization or "").strip()
    if token.lower() == "bearer":
        token = ""
    elif token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        return Rejection(401, "Authorization header is missing", "1001")
    if not secrets:
        return None
    parts = token.split(".")
    if len(parts) == 2:  # the plain console key
        key_id, secret = parts
        if secrets.get(key_id) is not None and hmac.compare_digest(secrets[key_id], secret):
            return None
        return Rejection(401, "Authorization Token非法，请确认Authorization Token正确传递。", "1002")
    if len(parts) != 3:
        return Rejection(401, "Authorization Token非法，请确认Authorization Token正确传递。", "1002")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        payload = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except (ValueError, binascii.Error):
        return Rejection(401, "Authorization Token非法，请确认Authorization Token正确传递。", "1002")
    if not isinstance(header, dict) or not isinstance(payload, dict) or header.get("alg") != "HS256":
        return Rejection(401, "Authorization Token非法，请确认Authorization Token正确传递。", "1002")
    secret = secrets.get(str(payload.get("api_key")))
    if secret is None:
        return Rejection(401, "Authorization Token非法，请确认Authorization Token正确传递。", "1002")
    signed = f"{parts[0]}.{parts[1]}".encode()
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        return Rejection(401, "Authorization Token验证失败", "1004")
    exp = payload.get("exp")
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if not isinstance(exp, (int, float)) or exp <= now_ms:
        # exp is in milliseconds (wire-protocols.md §2d); a seconds value reads as long expired
        return Rejection(401, "Authorization Token已过期", "1003")
    return None
