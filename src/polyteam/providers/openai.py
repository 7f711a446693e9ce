"""OpenAI Chat Completions and every OpenAI-compatible server (MODEL_LIST, open LLM, local).

One attempt per call (no retries): retries, fallback, limits and the ledger live in
`polyteam.gateway`. The wire is `_chat_wire.ChatClient`, a lean client on httpx2 (the official
SDK's own HTTP library) that speaks chat completions as the `openai` SDK does; the SDK itself is not
imported, which keeps ~0.4-1.4 s of import off the path to a run's first request (docs/design.md,
"The OpenAI-compatible wire"). One client per provider instance, closed by `aclose()`. For plain
`http://` bases the HTTP pool builds no TLS context (`_plain_http`). Server and transport errors
become `polyteam.errors` classes in `_map_error`, the one place this module looks at them. Zhipu
reuses this module (`zhipu.py`).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

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
from polyteam.providers._chat_wire import (
    ChatClient,
    WireConnectionError,
    WireError,
    WireStatusError,
    WireTimeoutError,
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
from polyteam.providers._plain_http import SDK_LIMITS, is_plain_http, plain_http_client_kwargs
from polyteam.providers.base import CallOptions, Completion, Delta, Endpoint, Message, Stream
from polyteam.providers.kinds import BY_NAME, spec_for
from polyteam.providers.openai_spec import is_reasoning_model

#: what `_map_error` understands; anything else is a bug and keeps its traceback
EDGE_ERRORS: tuple[type[BaseException], ...] = (
    WireError,
    WireConnectionError,
    httpx2.HTTPError,
    json.JSONDecodeError,
    UnicodeDecodeError,  # a reply that is not UTF-8 (issue 13): a ServerError, so retry and fallback apply
)

_QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached"}
_CONTEXT_CODES = {"context_length_exceeded", "string_above_max_length", "exceed_context_size_error"}
# llama.cpp's server: HTTP 400 "... exceeds the available context size ..."
_CONTEXT_PHRASES = ("maximum context length", "context length", "context size")
_FILTER_CODES = {"content_filter", "content_policy_violation"}


class OpenAIProvider:
    """Chat completions over the OpenAI wire protocol at `endpoint.base_url` (which includes `/v1`)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._client = ChatClient(**self._client_kwargs())
        # several bases (DESIGN §2, load balancing): per-base copies sharing the one HTTP pool, in turn
        self._clients = [self._client] + [self._client.with_options(base_url=b) for b in endpoint.bases[1:]]
        self._turns = itertools.count()

    # -- construction (overridden by ZhipuProvider) -------------------------------------------

    def _client_kwargs(self) -> dict[str, Any]:
        endpoint = self.endpoint
        kwargs: dict[str, Any] = {
            "base_url": endpoint.base_url,
            # open servers (vLLM, llama.cpp, Ollama) take no key, but the SDK insists on one
            "api_key": secret_value(endpoint) or "EMPTY",
            "timeout": endpoint.timeout or DEFAULT_TIMEOUT_S,
            "max_retries": 0,  # one policy rules: polyteam.gateway.RetryingProvider
        }
        if endpoint.headers:
            kwargs["default_headers"] = dict(endpoint.headers)
        if endpoint.query:
            kwargs["default_query"] = dict(endpoint.query)
        if endpoint.proxy:
            kwargs["http_client"] = httpx2.AsyncClient(
                proxy=endpoint.proxy, limits=SDK_LIMITS, follow_redirects=True
            )
        elif is_plain_http(endpoint):
            # no TLS on the wire: no TLS context built; a redirect to https:// is still verified
            kwargs["http_client"] = httpx2.AsyncClient(**plain_http_client_kwargs(), follow_redirects=True)
        else:
            kwargs["http_client"] = httpx2.AsyncClient(limits=SDK_LIMITS, follow_redirects=True)
        return kwargs

    def _token_param(self) -> str:
        """The request field for the output cap: the entry's `token_param:`, else the kind's, except
        that reasoning families take only max_completion_tokens wherever they are served."""
        endpoint = self.endpoint
        if endpoint.token_param:
            return endpoint.token_param
        if is_reasoning_model(endpoint.model):
            return "max_completion_tokens"
        return spec_for(endpoint.kind).token_param if endpoint.kind in BY_NAME else "max_tokens"

    def _request(self, messages: list[Message], options: CallOptions) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            self._token_param(): options.max_tokens,
        }
        # gpt-5 and the o-series reject any temperature but the default (provider-quirks.md)
        if options.temperature is not None and not is_reasoning_model(self.endpoint.model):
            body["temperature"] = options.temperature
        if options.top_p is not None:
            body["top_p"] = options.top_p
        if options.stop:
            body["stop"] = list(options.stop)
        # only where the server accepts it; elsewhere the team's repair path validates the JSON
        if options.json_schema is not None and self.endpoint.json_schema:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": options.schema_name, "schema": options.json_schema},
            }
        extra = {**self.endpoint.extra_body, **options.extra_body}
        if extra:
            body["extra_body"] = extra
        if options.timeout is not None:
            body["timeout"] = options.timeout
        return body

    def _stream_request(self, messages: list[Message], options: CallOptions) -> dict[str, Any]:
        # wire-protocols.md §2a: the usage chunk comes only when asked for, and may still be missing
        return {**self._request(messages, options), "stream": True, "stream_options": {"include_usage": True}}

    # -- the Provider interface -----------------------------------------------------------------

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        """One attempt. Raises: a `polyteam.errors.ProviderError` subclass."""
        try:
            reply = await self._pick().chat.completions.create(**self._request(messages, options))
        except EDGE_ERRORS as exc:
            raise self._map_error(exc) from exc
        if not getattr(reply, "choices", None):
            raise make_error(ServerError, self.endpoint, "reply has no choices", status=200)
        choice = reply.choices[0]
        text = (choice.message.content if choice.message else None) or ""
        usage = getattr(reply, "usage", None)
        return self._completion(
            messages,
            text,
            usage,
            model=getattr(reply, "model", None),
            finish_reason=choice.finish_reason,
            max_tokens=options.max_tokens,
            request_id=reply_request_id(reply),
        )

    async def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        """One streamed attempt: `Delta`s, then the joined `Completion`. Raises: a `ProviderError`."""
        parts: list[str] = []
        size = 0
        usage: Any = None
        model: str | None = None
        finish_reason: str | None = None
        request_id: str | None = None
        try:
            chunks = await self._pick().chat.completions.create(**self._stream_request(messages, options))
            async with chunks:
                async for chunk in chunks:
                    model = getattr(chunk, "model", None) or model
                    request_id = request_id or reply_request_id(chunk)
                    usage = getattr(chunk, "usage", None) or usage
                    for choice in getattr(chunk, "choices", None) or ():
                        content = choice.delta.content if choice.delta else None
                        if content:
                            parts.append(content)
                            size += len(content)
                            yield Delta(content)
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
                    if over_bound(size, options.max_tokens):
                        finish_reason = "length"  # far past max_tokens: stop reading (the text is cut below)
                        break
        except EDGE_ERRORS as exc:
            raise self._map_error(exc) from exc
        if finish_reason is None:
            # every compatible server ends with a finish_reason; without one the stream was cut
            raise make_error(TransportError, self.endpoint, "stream ended before the reply finished")
        yield self._completion(
            messages,
            "".join(parts),
            usage,
            model=model,
            finish_reason=finish_reason,
            max_tokens=options.max_tokens,
            request_id=request_id,
        )

    async def aclose(self) -> None:
        await self._client.close()

    def _pick(self) -> ChatClient:
        return self._clients[next(self._turns) % len(self._clients)]

    # -- helpers ----------------------------------------------------------------------------------

    def _completion(
        self,
        messages: list[Message],
        text: str,
        usage: Any,
        *,
        model: str | None,
        finish_reason: str | None,
        max_tokens: int,
        request_id: str | None = None,
    ) -> Completion:
        prompt = getattr(usage, "prompt_tokens", None) if usage is not None else None
        output = getattr(usage, "completion_tokens", None) if usage is not None else None
        return completion_with_usage(
            self.endpoint,
            messages,
            text,
            prompt,
            output,
            model=model,
            finish_reason=finish_reason,
            max_tokens=max_tokens,
            request_id=request_id,
        )

    def _map_error(self, exc: BaseException) -> ProviderError:
        """The one translation of SDK and transport errors into polyteam's classes."""
        return map_sdk_error(
            exc,
            self.endpoint,
            timeouts=(WireTimeoutError, httpx2.TimeoutException),
            connection_errors=(WireConnectionError, httpx2.HTTPError),
            malformed=(json.JSONDecodeError, UnicodeDecodeError),
            api_error=WireError,
            classify=self._map_api_error,
        )

    def _map_api_error(self, exc: WireError) -> ProviderError:
        """An error the server answered with (a status, or an error event inside a 200 stream)."""
        body = exc.body
        message = error_field(body, "message") or exc.message
        code = error_field(body, "code")
        kind = str(error_field(body, "type") or "")
        if not isinstance(exc, WireStatusError):
            # an error event inside a 200 stream (§2a): classify by its type/code
            return self._classify(None, code, kind, message, None)
        wait = retry_after(exc.response.headers)
        return with_request_id(self._classify(exc.status_code, code, kind, message, wait), exc.response.headers)

    def _classify(
        self, status: int | None, code: object, kind: str, message: object, wait: float | None
    ) -> ProviderError:
        endpoint = self.endpoint
        code_text = "" if code is None else str(code)
        text = str(message or "").lower()
        cls: type[ProviderError]
        if code_text in _QUOTA_CODES or kind in _QUOTA_CODES:
            cls = QuotaExhaustedError
        elif (
            code_text in _CONTEXT_CODES or kind in _CONTEXT_CODES or any(p in text for p in _CONTEXT_PHRASES)
        ):
            cls = ContextTooLongError
        elif code_text in _FILTER_CODES:
            cls = ContentFilteredError
        elif status in (401, 403) or code_text == "invalid_api_key":
            cls = AuthError
        elif status == 429 or "rate_limit" in kind or code_text == "rate_limit_exceeded":
            cls = RateLimitError
        elif status is None or status >= 500 or status in (408, 409):
            cls = ServerError  # 500/502/503, 529 overloaded, a mid-stream server_error
        else:
            cls = BadRequestError
        return make_error(cls, endpoint, message, status=status, code=code, retry_after_s=wait)
