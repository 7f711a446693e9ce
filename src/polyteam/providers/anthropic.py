"""Claude over the Anthropic Messages API (`POST {base}/v1/messages`) with the official SDK.

Claude's quirks stay here: system messages go top-level in `system`, `max_tokens` is always
sent, roles must alternate, and streamed usage arrives in `message_start` (input) and
`message_delta` (cumulative output) events (wire-protocols.md §2b). One attempt per call
(`max_retries=0`); retries live in `polyteam.gateway`. SDK errors become `polyteam.errors`
classes in `_map_error` (the transport cases every SDK shares through `_common.map_sdk_error`,
the API's own error answers in `_classify`).
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2

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
    error_field,
    make_error,
    map_sdk_error,
    over_bound,
    reply_request_id,
    retry_after,
    secret_value,
    with_request_id,
)
from polyteam.providers._plain_http import is_plain_http, keepalive_socket_options, plain_http_client_kwargs
from polyteam.providers.base import CallOptions, Completion, Delta, Endpoint, Message, Stream

EDGE_ERRORS: tuple[type[BaseException], ...] = (
    anthropic.AnthropicError,
    httpx2.HTTPError,
    json.JSONDecodeError,
    UnicodeDecodeError,
)

#: error.type of the body (§2b table) -> class; checked before the HTTP status
_TYPES: dict[str, type[ProviderError]] = {
    "authentication_error": AuthError,
    "permission_error": AuthError,
    "billing_error": QuotaExhaustedError,
    "rate_limit_error": RateLimitError,
    "overloaded_error": ServerError,
    "api_error": ServerError,
    "timeout_error": ServerError,
    "invalid_request_error": BadRequestError,
    "not_found_error": BadRequestError,
    "request_too_large": BadRequestError,
}
_QUOTA_CODES = {"enforced_spend_limit_reached"}


def to_wire(messages: list[Message]) -> tuple[str | None, list[dict[str, str]]]:
    """Claude's shape: one top-level system text, then alternating user/assistant turns."""
    system = "\n\n".join(m.content for m in messages if m.role == "system") or None
    turns: list[dict[str, str]] = []
    for message in messages:
        if message.role == "system":
            continue
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"] += "\n\n" + message.content
        else:
            turns.append({"role": message.role, "content": message.content})
    if not turns or turns[0]["role"] != "user":
        # the API requires the first turn to be the user's
        turns.insert(0, {"role": "user", "content": system or "Continue."})
        if system and len(turns) == 1:
            system = None
    return system, turns


class AnthropicProvider:
    """Claude at `endpoint.base_url` (no trailing `/v1`: the SDK adds `/v1/messages`)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        kwargs: dict[str, Any] = {
            "base_url": endpoint.base_url,
            "api_key": secret_value(endpoint),
            "timeout": endpoint.timeout or DEFAULT_TIMEOUT_S,
            "max_retries": 0,  # one policy rules: polyteam.gateway.RetryingProvider
        }
        if endpoint.headers:
            kwargs["default_headers"] = dict(endpoint.headers)
        if endpoint.query:
            kwargs["default_query"] = dict(endpoint.query)
        if endpoint.proxy:
            kwargs["http_client"] = anthropic.DefaultAsyncHttpxClient(proxy=endpoint.proxy)
        elif is_plain_http(endpoint):  # no TLS context built for a wire without TLS (_plain_http)
            kwargs["http_client"] = anthropic.DefaultAsyncHttpxClient(
                **plain_http_client_kwargs(keepalive_socket_options())
            )
        self._client = anthropic.AsyncAnthropic(**kwargs)

    def _request(self, messages: list[Message], options: CallOptions) -> dict[str, Any]:
        system, turns = to_wire(messages)
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "max_tokens": options.max_tokens,
            "messages": turns,
        }
        if system:
            body["system"] = system
        # no temperature / top_p: the SDK (2.x) no longer takes them, and the current Claude
        # families decide sampling themselves; sending them through extra_body would risk a 400
        if options.stop:
            body["stop_sequences"] = list(options.stop)
        extra = {**self.endpoint.extra_body, **options.extra_body}
        if extra:
            body["extra_body"] = extra
        if options.timeout is not None:
            body["timeout"] = options.timeout
        return body

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        """One attempt. Raises: a `polyteam.errors.ProviderError` subclass."""
        try:
            reply = await self._client.messages.create(**self._request(messages, options))
        except EDGE_ERRORS as exc:
            raise self._map_error(exc) from exc
        text = "".join(getattr(block, "text", "") for block in reply.content or () if block.type == "text")
        usage = getattr(reply, "usage", None)
        completion = completion_with_usage(
            self.endpoint,
            messages,
            text,
            getattr(usage, "input_tokens", None),
            getattr(usage, "output_tokens", None),
            model=getattr(reply, "model", None),
            finish_reason=getattr(reply, "stop_reason", None),
            max_tokens=options.max_tokens,
            request_id=reply_request_id(reply),
        )
        return self._unless_refused(completion)

    async def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        """One streamed attempt over named SSE events. Raises: a `ProviderError`."""
        parts: list[str] = []
        input_tokens: int | None = None
        output_tokens: int | None = None
        model: str | None = None
        stop_reason: str | None = None
        request_id: str | None = None
        finished = False
        size = 0
        try:
            events = await self._client.messages.create(**self._request(messages, options), stream=True)
            async with events:
                async for event in events:
                    if event.type == "message_start":
                        model = event.message.model
                        request_id = reply_request_id(event.message)
                        input_tokens = getattr(event.message.usage, "input_tokens", None)
                        output_tokens = getattr(event.message.usage, "output_tokens", None)
                    elif event.type == "content_block_delta":
                        text = getattr(event.delta, "text", None)
                        if text:
                            parts.append(text)
                            size += len(text)
                            yield Delta(text)
                        if over_bound(size, options.max_tokens):
                            stop_reason, finished = "max_tokens", True  # far past the cap: stop reading
                            break
                    elif event.type == "message_delta":
                        # cumulative (§2b); newer servers may repeat input_tokens here
                        output_tokens = getattr(event.usage, "output_tokens", None) or output_tokens
                        input_tokens = getattr(event.usage, "input_tokens", None) or input_tokens
                        stop_reason = event.delta.stop_reason or stop_reason
                    elif event.type == "message_stop":
                        finished = True
        except EDGE_ERRORS as exc:
            raise self._map_error(exc) from exc
        if not finished:
            raise make_error(TransportError, self.endpoint, "stream ended before message_stop")
        completion = completion_with_usage(
            self.endpoint,
            messages,
            "".join(parts),
            input_tokens,
            output_tokens,
            model=model,
            finish_reason=stop_reason,
            max_tokens=options.max_tokens,
            request_id=request_id,
        )
        yield self._unless_refused(completion)

    async def aclose(self) -> None:
        await self._client.close()

    def _unless_refused(self, completion: Completion) -> Completion:
        """The completion; a refusal (stop_reason "refusal") is a ContentFilteredError instead."""
        if completion.finish_reason == "refusal":
            raise make_error(ContentFilteredError, self.endpoint, "the model refused", code="refusal")
        return completion

    def _map_error(self, exc: BaseException) -> ProviderError:
        """The one translation of SDK and transport errors into polyteam's classes."""
        return map_sdk_error(
            exc,
            self.endpoint,
            timeouts=(anthropic.APITimeoutError, httpx2.TimeoutException),
            connection_errors=(anthropic.APIConnectionError, httpx2.HTTPError),
            malformed=(json.JSONDecodeError, UnicodeDecodeError, anthropic.APIResponseValidationError),
            api_error=anthropic.APIStatusError,
            classify=self._classify,
        )

    def _classify(self, exc: anthropic.APIStatusError) -> ProviderError:
        """An error the API answered with: by its quota code, documented message, type, then status."""
        body = exc.body
        kind = str(exc.type or error_field(body, "type") or "")
        if kind == "error":  # the envelope's own type, not the class
            kind = ""
        message = exc.api_message or error_field(body, "message") or exc.message
        # a mid-stream `event: error` arrives on the 200 response (§2b)
        status = exc.status_code if exc.status_code >= 400 else None
        wait = retry_after(exc.response.headers) if status else None
        cls: type[ProviderError]
        if exc.error_code in _QUOTA_CODES:
            cls = QuotaExhaustedError
        elif "prompt is too long" in str(message).lower():
            cls = ContextTooLongError  # Claude has no code for these two; its messages are documented
        elif "content filtering" in str(message).lower():
            cls = ContentFilteredError
        elif kind in _TYPES:
            cls = _TYPES[kind]
        elif status in (401, 403):
            cls = AuthError
        elif status == 402:
            cls = QuotaExhaustedError
        elif status == 429:
            cls = RateLimitError
        elif status is None or status >= 500 or status in (408, 409):
            cls = ServerError
        else:
            cls = BadRequestError
        error = make_error(
            cls,
            self.endpoint,
            message,
            status=status,
            code=exc.error_code or kind or None,
            retry_after_s=wait,
        )
        return with_request_id(error, exc.response.headers)
