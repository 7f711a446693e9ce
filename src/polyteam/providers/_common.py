"""Small helpers shared by the provider modules: Retry-After parsing, one-line error text, errors.

Each provider still maps its own SDK/WebSocket errors in one private function at its edge;
this module only holds the pieces those functions have in common (`map_sdk_error`: what the
httpx-based SDKs' errors share) and the `Completion` built from reported or estimated usage.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from polyteam.errors import ProviderError, RateLimitError, ServerError, TransportError, UnreadableReplyError
from polyteam.providers.base import Completion, Endpoint, Message, estimate_prompt_tokens, estimate_tokens
from polyteam.redact import redact, register_secret

#: the SDK default when neither the endpoint nor the call sets a timeout (wire-protocols.md §2a)
DEFAULT_TIMEOUT_S = 600.0
_MAX_MESSAGE = 300

_ApiError = TypeVar("_ApiError", bound=BaseException)


def retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, else `Retry-After` (seconds or HTTP date).

    Parse order as in the official SDKs (wire-protocols.md §2a). None when absent or unparsable.
    """
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000.0)
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def one_line(text: object, fallback: str = "no message") -> str:
    """Server text made fit for a one-line, secret-free error message."""
    value = " ".join(str(text).split()) if text is not None else ""
    if not value:
        value = fallback
    if len(value) > _MAX_MESSAGE:
        value = value[: _MAX_MESSAGE - 1] + "…"
    return redact(value)


def make_error(
    cls: type[ProviderError],
    endpoint: Endpoint,
    message: object,
    *,
    status: int | None = None,
    code: object = None,
    retry_after_s: float | None = None,
) -> ProviderError:
    """An instance of `cls` naming the endpoint (llm, provider kind, base URL), never a key."""
    kwargs: dict[str, Any] = {
        "llm": endpoint.llm,
        "provider": endpoint.kind,
        "base_url": redact(endpoint.base_url),
        "status": status,
        "code": None if code is None else one_line(code),
    }
    if issubclass(cls, (RateLimitError, ServerError)):
        kwargs["retry_after"] = retry_after_s
    return cls(one_line(message), **kwargs)


#: the headers a provider names a request by (OpenAI and OpenAI-compatible servers, Anthropic)
_REQUEST_ID_HEADERS = ("x-request-id", "request-id")
_REQUEST_ID_CHARS = re.compile(r"[^A-Za-z0-9._:/-]")


def with_request_id(error: ProviderError, headers: Mapping[str, str] | None) -> ProviderError:
    """`error`, carrying the failed request's id from the server's reply headers (bounded, redacted)."""
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name) if headers is not None else None
        safe = _REQUEST_ID_CHARS.sub("", str(value or ""))[:128]  # a server's text: no control characters
        if safe:
            error.request_id = redact(safe)
            break
    return error


def secret_value(endpoint: Endpoint, field: str = "api_key") -> str:
    """The plain value of a SecretStr field ("" when unset), registered for redaction."""
    secret = getattr(endpoint, field)
    value = secret.get_secret_value() if secret is not None else ""
    register_secret(value)
    return value


def error_field(body: object, *names: str) -> Any:
    """The first present field of an error body, flat or nested under "error" (§2a: both occur)."""
    if not isinstance(body, Mapping):
        return None
    inner = body.get("error")
    for source in (inner if isinstance(inner, Mapping) else None, body):
        if source is None:
            continue
        for name in names:
            if source.get(name) is not None:
                return source[name]
    return None


def map_sdk_error(
    exc: BaseException,
    endpoint: Endpoint,
    *,
    timeouts: tuple[type[BaseException], ...],
    connection_errors: tuple[type[BaseException], ...],
    malformed: tuple[type[BaseException], ...],
    api_error: type[_ApiError],
    classify: Callable[[_ApiError], ProviderError],
) -> ProviderError:
    """The error mapping the httpx-based SDKs (openai, anthropic) have in common.

    Checked in this order, since an SDK's timeout class is also a connection error: `timeouts`
    and then `connection_errors` become TransportError, a `malformed` reply ServerError; an
    `api_error` (it carries a status and body) goes to the provider's own `classify`; any
    other SDK error is a ServerError naming its class.
    """
    if isinstance(exc, timeouts):
        return make_error(TransportError, endpoint, "timed out")
    if isinstance(exc, connection_errors):
        cause = exc.__cause__ or exc
        return make_error(TransportError, endpoint, f"connection failed: {type(cause).__name__}: {cause}")
    if isinstance(exc, malformed):
        return make_error(UnreadableReplyError, endpoint, "malformed reply from the server")
    if isinstance(exc, api_error):
        return classify(exc)
    return make_error(ServerError, endpoint, f"{type(exc).__name__}: {exc}")


#: a generous bound on characters per output token: real tokenizers average 3-4 for English text, so a
#: reply longer than max_tokens x this was not produced under that cap (issue 13: a 5 MB reply to 3000)
CHARS_PER_TOKEN_BOUND = 16
TRUNCATION_MARK = "\n[polyteam: reply truncated: far longer than max_tokens allows]"


def over_bound(size: int, max_tokens: int | None) -> bool:
    """Whether `size` characters of streamed text are far more than `max_tokens` allows (CHARS_PER_TOKEN_BOUND)."""
    return bool(max_tokens) and size > (max_tokens or 0) * CHARS_PER_TOKEN_BOUND


def completion_with_usage(
    endpoint: Endpoint,
    messages: list[Message],
    text: str,
    input_tokens: object,
    output_tokens: object,
    *,
    model: str | None,
    finish_reason: str | None,
    max_tokens: int | None = None,
    request_id: str | None = None,
) -> Completion:
    """The reply as a `Completion`: the usage the server reported, estimated where it sent none, and the
    text bounded by `max_tokens` (cut and marked when far over it).

    Raises:
        ServerError: a usage field that is not a whole number >= 0 (retried, then fallback).
    """
    reported_in = _usage_field(endpoint, "input", input_tokens)
    reported_out = _usage_field(endpoint, "output", output_tokens)
    truncated = False
    if max_tokens and len(text) > max_tokens * CHARS_PER_TOKEN_BOUND:
        text = text[: max_tokens * CHARS_PER_TOKEN_BOUND] + TRUNCATION_MARK
        truncated = True
    return Completion(
        text=text,
        input_tokens=estimate_prompt_tokens(messages) if reported_in is None else reported_in,
        output_tokens=estimate_tokens(text) if reported_out is None else reported_out,
        model=model or endpoint.model,
        finish_reason="length" if truncated else finish_reason,
        estimated=reported_in is None or reported_out is None,
        truncated=truncated,
        request_id=str(request_id) if request_id else None,
    )


def _usage_field(endpoint: Endpoint, which: str, value: object) -> int | None:
    """A reported token count, validated: None when absent; an int >= 0; anything else is an error."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        shown = type(value).__name__ if not isinstance(value, int) or isinstance(value, bool) else "negative"
        raise make_error(UnreadableReplyError, endpoint, f"malformed usage from the server: {which} tokens is {shown}")
    return value


def reply_request_id(reply: Any) -> str | None:
    """An SDK reply's request id: the server's request-id header (`_request_id`), else the reply's id."""
    found = getattr(reply, "_request_id", None) or getattr(reply, "id", None)
    return found if isinstance(found, str) and found else None
