"""Zhipu GLM v4 chat completions (`POST {base}/chat/completions`), signed with a cached JWT.

The v4 wire format is OpenAI's with small differences (wire-protocols.md §2d), so this is the
openai provider with Zhipu's authentication, sampling limits and error codes: a JWT from the
`id.secret` key (HS256, ms timestamps, `sign_type: SIGN`) signed again ~30 s before it expires,
and the string error codes of the body mapped first (1113 is quota even with HTTP 429).
One attempt per call; retries live in `polyteam.gateway`.
"""

from __future__ import annotations

import time
from typing import Any

from polyteam.errors import (
    AuthError,
    BadRequestError,
    ContentFilteredError,
    ContextTooLongError,
    ProviderError,
    QuotaExhaustedError,
    RateLimitError,
    ServerError,
)
from polyteam.providers._common import make_error, secret_value
from polyteam.providers._signing import Clock, ZhipuToken
from polyteam.providers.base import CallOptions, Endpoint, Message
from polyteam.providers.openai import OpenAIProvider

DEFAULT_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"

#: business codes of the error body (docs.bigmodel.cn api-code), checked before the HTTP status
_CODES: dict[str, type[ProviderError]] = {
    "1113": QuotaExhaustedError,  # arrears / no balance, sent with HTTP 429
    "1304": QuotaExhaustedError,  # daily quota
    "1308": QuotaExhaustedError,  # usage cap reached
    "1261": ContextTooLongError,
    "1301": ContentFilteredError,
    "1302": RateLimitError,  # concurrency too high
    "1303": RateLimitError,  # frequency too high
    "1305": RateLimitError,  # traffic limited
    "1312": ServerError,  # model overloaded
    "500": ServerError,
}


def _classify_code(code: str) -> type[ProviderError] | None:
    if code in _CODES:
        return _CODES[code]
    if not code.isdigit():
        return None
    number = int(code)
    if 1000 <= number <= 1004 or 1110 <= number <= 1121:
        return AuthError  # token missing/invalid/expired, account locked or missing
    if 1200 <= number <= 1234:
        return BadRequestError  # bad params, unknown model, invalid field
    return None


class ZhipuProvider(OpenAIProvider):
    """Zhipu v4 over the OpenAI-compatible wire (`_chat_wire`), with a JWT as the bearer key."""

    def __init__(self, endpoint: Endpoint, clock: Clock = time.time) -> None:
        self._clock = clock
        super().__init__(endpoint)

    def _client_kwargs(self) -> dict[str, Any]:
        kwargs = super()._client_kwargs()
        kwargs["base_url"] = self.endpoint.base_url or DEFAULT_BASE_URL
        key = secret_value(self.endpoint)
        if "." in key:
            # the client awaits this before every request, so a token near expiry is replaced
            kwargs["api_key"] = ZhipuToken(key, clock=self._clock).aget
        return kwargs

    def _request(self, messages: list[Message], options: CallOptions) -> dict[str, Any]:
        body = super()._request(messages, options)
        # the Zhipu SDK clamps into the open interval (0, 1); the server rejects 0 and 1
        if "temperature" in body:
            body["temperature"] = min(0.99, max(0.01, body["temperature"]))
        if "top_p" in body:
            body["top_p"] = min(0.99, max(0.01, body["top_p"]))
        return body

    def _stream_request(self, messages: list[Message], options: CallOptions) -> dict[str, Any]:
        # §2d: the last chunk carries usage without stream_options
        return {**self._request(messages, options), "stream": True}

    def _classify(
        self, status: int | None, code: object, kind: str, message: object, wait: float | None
    ) -> ProviderError:
        cls = _classify_code("" if code is None else str(code).strip())
        if cls is None:
            return super()._classify(status, code, kind, message, wait)
        return make_error(cls, self.endpoint, message, status=status, code=code, retry_after_s=wait)
