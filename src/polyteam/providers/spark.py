"""iFlytek Spark over its WebSocket chat API (wire-protocols.md §2c).

One connection per request: open the HMAC-signed URL, send one request frame, join the
answer frames until status 2, read usage from the last frame. One attempt per call; retries
live in `polyteam.gateway`. Error frames (`header.code != 0`), handshake refusals and dropped
sockets become `polyteam.errors` classes in `_map_error`, the one place this module looks at them.
"""

from __future__ import annotations

import json
import time
from typing import Any

import websockets
from websockets.asyncio.client import connect

from polyteam.errors import (
    AuthError,
    BadRequestError,
    ContentFilteredError,
    ContextTooLongError,
    ProviderError,
    QuotaExhaustedError,
    RateLimitError,
    ServerError,
    TransportError,
)
from polyteam.providers._common import (
    DEFAULT_TIMEOUT_S,
    completion_with_usage,
    make_error,
    over_bound,
    retry_after,
    secret_value,
)
from polyteam.providers._signing import Clock, spark_signed_url
from polyteam.providers.base import CallOptions, Completion, Delta, Endpoint, Message, Stream

#: header.code of an error frame -> class (§2c error table)
_CODES: dict[int, type[ProviderError]] = {
    **dict.fromkeys((10013, 10014, 10019, 10021, 10022), ContentFilteredError),
    10907: ContextTooLongError,
    **dict.fromkeys((11200, 11201), QuotaExhaustedError),
    **dict.fromkeys((11202, 11203, 10006, 10007), RateLimitError),
    **dict.fromkeys((10003, 10004, 10005, 10163), BadRequestError),
    **dict.fromkeys((10015, 10016), AuthError),
}
#: domains whose max_tokens ceiling is 4096 rather than 8192
_SMALL_DOMAINS = {"general", "lite", "pro-128k"}
_UID = "polyteam"

#: how long closing may take once a call is over or cancelled (websockets waits 10 s by default)
CLOSE_TIMEOUT_S = 1.0


class SparkFrameError(Exception):
    """An error frame from the server; turned into a polyteam error by `_map_error`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SparkStreamEnded(Exception):
    """The socket closed (or the server said nothing more) before the status-2 frame."""


EDGE_ERRORS: tuple[type[BaseException], ...] = (
    websockets.exceptions.WebSocketException,
    OSError,
    TimeoutError,
    json.JSONDecodeError,
    UnicodeDecodeError,
    SparkFrameError,
    SparkStreamEnded,
)


class SparkProvider:
    """Spark at `endpoint.base_url` (the ws(s) URL of the chat path); `domain` names the model."""

    def __init__(self, endpoint: Endpoint, clock: Clock = time.time) -> None:
        self.endpoint = endpoint
        self._clock = clock
        self._api_key = secret_value(endpoint, "api_key")
        self._api_secret = secret_value(endpoint, "api_secret")

    @property
    def domain(self) -> str:
        return self.endpoint.domain or self.endpoint.model

    def _frame(self, messages: list[Message], options: CallOptions) -> dict[str, Any]:
        ceiling = 4096 if self.domain in _SMALL_DOMAINS else 8192
        chat: dict[str, Any] = {"domain": self.domain, "max_tokens": max(1, min(options.max_tokens, ceiling))}
        if options.temperature is not None:
            chat["temperature"] = min(1.0, max(0.01, options.temperature))  # (0, 1]
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        # system is supported only as the first message (§2c)
        text = [{"role": "system", "content": system}] if system else []
        text += [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
        return {
            "header": {"app_id": self.endpoint.app_id or "", "uid": _UID},
            "parameter": {"chat": chat},
            "payload": {"message": {"text": text}},
        }

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        """One attempt (a streamed exchange, joined). Raises: a `polyteam.errors.ProviderError`."""
        completion: Completion | None = None
        async for item in self.stream(messages, options):
            if isinstance(item, Completion):
                completion = item
        assert completion is not None  # stream() always ends with a Completion or raises
        return completion

    async def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        """One connection: `Delta`s as frames arrive, then the `Completion`. Raises: a `ProviderError`."""
        url = spark_signed_url(self.endpoint.base_url, self._api_key, self._api_secret, self._clock())
        kwargs: dict[str, Any] = {
            "open_timeout": self.endpoint.timeout or DEFAULT_TIMEOUT_S,
            # a cancelled call (a timeout) must not wait 10 s for a silent server's close frame
            "close_timeout": CLOSE_TIMEOUT_S,
            "max_size": None,
        }
        if self.endpoint.proxy:
            kwargs["proxy"] = self.endpoint.proxy
        parts: list[str] = []
        size = 0
        usage: dict[str, Any] = {}
        sid: str | None = None  # Spark's request id, in every frame's header
        try:
            async with connect(url, **kwargs) as ws:
                await ws.send(json.dumps(self._frame(messages, options), ensure_ascii=False))
                finished = False
                async for raw in ws:
                    frame = json.loads(raw)
                    header = frame.get("header") or {}
                    sid = sid or header.get("sid")
                    code = int(header.get("code") or 0)
                    if code != 0:
                        raise SparkFrameError(code, str(header.get("message") or ""))
                    payload = frame.get("payload") or {}
                    for piece in (payload.get("choices") or {}).get("text") or ():
                        content = piece.get("content") or ""
                        if content:
                            parts.append(content)
                            size += len(content)
                            yield Delta(content)
                    usage = (payload.get("usage") or {}).get("text") or usage
                    if header.get("status") == 2 or (payload.get("choices") or {}).get("status") == 2:
                        finished = True
                        break
                    if over_bound(size, options.max_tokens):
                        finished = True  # far past max_tokens: stop reading (the text is cut below)
                        break
                if not finished:
                    raise SparkStreamEnded("the socket closed before the last frame")
        except EDGE_ERRORS as exc:
            raise self._map_error(exc) from exc
        yield completion_with_usage(
            self.endpoint,
            messages,
            "".join(parts),
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
            model=self.domain,
            finish_reason="stop",
            max_tokens=options.max_tokens,
            request_id=sid,
        )

    async def aclose(self) -> None:
        """Nothing to close: every request opens and closes its own connection."""

    def _map_error(self, exc: BaseException) -> ProviderError:
        """The one translation of WebSocket, socket and frame errors into polyteam's classes."""
        endpoint = self.endpoint
        if isinstance(exc, SparkFrameError):
            cls = _CODES.get(exc.code, ServerError)  # 100xx engine errors, 10110, 10222, 10223
            return make_error(cls, endpoint, exc.message or "error frame", code=exc.code)
        if isinstance(exc, websockets.exceptions.InvalidStatus):
            response = exc.response
            status = response.status_code
            try:
                message = json.loads(response.body or b"{}").get("message") or response.reason_phrase
            except (ValueError, AttributeError):
                message = response.reason_phrase
            if status in (401, 403):
                cls = AuthError
            elif status == 429:
                cls = RateLimitError
            elif status >= 500:
                cls = ServerError
            else:
                cls = BadRequestError
            return make_error(
                cls,
                endpoint,
                message,
                status=status,
                retry_after_s=retry_after(dict(response.headers.raw_items())),
            )
        if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
            return make_error(ServerError, endpoint, "malformed frame from the server")
        if isinstance(exc, SparkStreamEnded | websockets.exceptions.ConnectionClosed):
            return make_error(TransportError, endpoint, "the socket closed before the last frame")
        if isinstance(exc, TimeoutError):
            return make_error(TransportError, endpoint, "timed out opening the connection")
        if isinstance(exc, websockets.exceptions.InvalidURI):
            return make_error(BadRequestError, endpoint, "invalid Spark URL")
        return make_error(TransportError, endpoint, f"connection failed: {type(exc).__name__}: {exc}")
