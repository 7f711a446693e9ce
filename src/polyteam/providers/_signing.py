"""Request signing for Zhipu (JWT, HS256) and iFlytek Spark (HMAC-SHA256 signed WebSocket URL).

Pure functions with an injectable clock, so the reference test vectors of
wire-protocols.md §2c/§2d can pin them. The providers call these; nothing here does I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import warnings
from collections.abc import Callable
from email.utils import formatdate
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
from jwt.warnings import InsecureKeyLengthWarning

Clock = Callable[[], float]

#: Zhipu SDK: exp = now + 210 s; the token is reused until shortly before it expires
ZHIPU_TTL_S = 210.0
ZHIPU_REFRESH_MARGIN_S = 30.0


def zhipu_jwt(api_key: str, now_ms: int) -> str:
    """The Zhipu v4 bearer JWT for an `id.secret` key at `now_ms` (ms timestamps, `sign_type: SIGN`).

    Raises: ValueError when the key is not of the form `id.secret`.
    """
    key_id, sep, secret = api_key.partition(".")
    if not sep or not key_id or not secret:
        raise ValueError("a Zhipu API key has the form <id>.<secret>")
    payload = {"api_key": key_id, "exp": now_ms + int(ZHIPU_TTL_S * 1000), "timestamp": now_ms}
    with warnings.catch_warnings():
        # Zhipu issues 16-character secrets; PyJWT's length advice is not ours to act on
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(payload, secret, algorithm="HS256", headers={"alg": "HS256", "sign_type": "SIGN"})


class ZhipuToken:
    """A cached Zhipu JWT, signed again when it is within `ZHIPU_REFRESH_MARGIN_S` of expiring."""

    def __init__(self, api_key: str, clock: Clock = time.time) -> None:
        self._api_key = api_key
        self._clock = clock
        self._token = ""
        self._expires = 0.0

    def get(self) -> str:
        now = self._clock()
        if not self._token or now >= self._expires - ZHIPU_REFRESH_MARGIN_S:
            self._token = zhipu_jwt(self._api_key, int(round(now * 1000)))
            self._expires = now + ZHIPU_TTL_S
        return self._token

    async def aget(self) -> str:
        """`get` for the openai SDK's `api_key` callable, which awaits it before every request."""
        return self.get()


def rfc1123_date(now: float) -> str:
    """`Fri, 23 Apr 2021 02:35:47 GMT` for a Unix time."""
    return formatdate(now, usegmt=True)


def spark_signature(api_secret: str, host: str, date: str, request_line: str) -> str:
    """base64(HMAC-SHA256(secret, "host: H\\ndate: D\\nREQUEST-LINE")), 44 characters."""
    origin = f"host: {host}\ndate: {date}\n{request_line}"
    digest = hmac.new(api_secret.encode(), origin.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def spark_signed_url(url: str, api_key: str, api_secret: str, now: float) -> str:
    """The Spark chat URL with `authorization`, `date` and `host` query parameters (§2c "Signed URL")."""
    parts = urlsplit(url)
    host = parts.netloc
    path = parts.path or "/"
    date = rfc1123_date(now)
    signature = spark_signature(api_secret, host, date, f"GET {path} HTTP/1.1")
    origin = f'api_key="{api_key}", algorithm="hmac-sha256", headers="host date request-line", signature="{signature}"'
    authorization = base64.b64encode(origin.encode()).decode()
    query = urlencode({"authorization": authorization, "date": date, "host": host})
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))
