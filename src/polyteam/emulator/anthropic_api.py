"""The Anthropic Messages wire (wire-protocols.md §2b), as the emulator serves it.

`POST …/v1/messages` (any path prefix). Needs `x-api-key` (or `Authorization: Bearer`) -> else 401, and
`anthropic-version` -> else 400; `max_tokens` required; `system` top-level only (a "system" role in
`messages` is a 400, as on the real API). Streams are named SSE events with a `ping`, a cumulative
`message_delta` usage, and `event: error` for in-stream failures. Errors are
`{"type":"error","error":{"type","message"},"request_id"}`; quota is the 429 spend-limit variant.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from polyteam.emulator.httpflow import Answer, HttpProtocol, WireError, sse
from polyteam.emulator.quirks import anthropic_refusal
from polyteam.emulator.responders import ChatRequest
from polyteam.emulator.texts import flatten_content, new_id

# kind -> (status, error.type, message); wire-protocols.md §2b "Errors"
ERRORS: dict[str, tuple[int, str, str]] = {
    "400": (400, "invalid_request_error", "The emulator was told to reject this request."),
    "auth": (401, "authentication_error", "invalid x-api-key"),
    "429": (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    "quota": (429, "rate_limit_error", "You have reached your specified API usage limits."),
    "500": (500, "api_error", "Internal server error"),
    "503": (503, "api_error", "Service unavailable"),
    "529": (529, "overloaded_error", "Overloaded"),
    "filter": (400, "invalid_request_error", "Output blocked by content filtering policy"),
    "context": (400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
}


def _rfc3339(seconds_ahead: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds_ahead)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def error_response(
    status: int,
    type_: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> web.Response:
    """An Anthropic error envelope."""
    request_id = new_id("req_")
    error: dict[str, Any] = {"type": type_, "message": message}
    if details:
        error["details"] = details
    body = {"type": "error", "error": error, "request_id": request_id}
    return web.json_response(body, status=status, headers={"request-id": request_id, **(headers or {})})


class AnthropicProtocol(HttpProtocol):
    """Anthropic Messages."""

    name = "anthropic"

    def authenticate(self, request: web.Request, accepted: Any) -> web.Response | None:
        key = request.headers.get("x-api-key", "").strip()
        bearer = request.headers.get("Authorization", "")
        if not key and bearer.lower().startswith("bearer "):
            key = bearer[7:].strip()
        if not key:
            return error_response(401, "authentication_error", "x-api-key header is required")
        if accepted and key not in accepted:
            return self.error("auth", 0)
        if not request.headers.get("anthropic-version", "").strip():
            return error_response(400, "invalid_request_error", "anthropic-version: header is required")
        return None

    def bad_request(self, message: str) -> web.Response:
        return error_response(400, "invalid_request_error", message)

    def refusal(self, body: dict[str, Any], chat: ChatRequest) -> web.Response | None:
        refused = anthropic_refusal(chat.model)
        if refused is None:
            return None
        status, envelope = refused
        return web.json_response(envelope, status=status, headers={"request-id": new_id("req_")})

    def parse(self, body: Any) -> ChatRequest:
        if not isinstance(body, dict):
            raise WireError(self.bad_request("The request body must be a JSON object."))
        model, messages, max_tokens = body.get("model"), body.get("messages"), body.get("max_tokens")
        if not isinstance(model, str) or not model:
            raise WireError(self.bad_request("model: Field required"))
        if max_tokens is None:
            raise WireError(self.bad_request("max_tokens: Field required"))
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise WireError(self.bad_request("max_tokens: Input should be a valid integer greater than 0"))
        if not isinstance(messages, list) or not messages:
            raise WireError(self.bad_request("messages: Field required"))
        flat = []
        system = flatten_content(body.get("system"))
        if system:
            flat.append({"role": "system", "content": system})
        for index, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role == "system":
                raise WireError(
                    self.bad_request(
                        'messages: Unexpected role "system". The Messages API accepts a top-level `system` '
                        'parameter, not "system" as an input message role.'
                    )
                )
            if role not in ("user", "assistant"):
                raise WireError(
                    self.bad_request(f"messages.{index}.role: Input should be 'user' or 'assistant'")
                )
            flat.append({"role": role, "content": flatten_content(message.get("content"))})
        output = body.get("output_format")
        schema = (
            output.get("schema")
            if isinstance(output, dict) and isinstance(output.get("schema"), dict)
            else None
        )
        return self.chat_request(body, model, flat, max_tokens, schema)

    def error(self, kind: str, retry_after_ms: int) -> web.Response:
        status, type_, message = ERRORS[kind]
        headers: dict[str, str] = {}
        details = None
        if kind == "429":
            headers = {
                "retry-after": str(retry_after_ms // 1000),
                "retry-after-ms": str(retry_after_ms),
                "anthropic-ratelimit-requests-limit": "50",
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": _rfc3339(retry_after_ms / 1000),
            }
        elif kind == "quota":
            details = {
                "error_code": "enforced_spend_limit_reached"
            }  # the SDK's EnforcedSpendLimitReachedError
        return error_response(status, type_, message, headers, details)

    def headers(self) -> dict[str, str]:
        return {
            "request-id": new_id("req_"),
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": _rfc3339(1),
        }

    def _message(self, answer: Answer, text: str | None, output_tokens: int) -> dict[str, Any]:
        content = [] if text is None else [{"type": "text", "text": text}]
        return {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": answer.chat.model,
            "content": content,
            "stop_reason": None if text is None else self._stop(answer),
            "stop_sequence": None,
            "usage": {
                "input_tokens": answer.prompt_tokens,
                "output_tokens": output_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }

    def _stop(self, answer: Answer) -> str:
        return "max_tokens" if answer.truncated_by_max_tokens else "end_turn"

    def body(self, answer: Answer) -> dict[str, Any]:
        return self._message(answer, answer.text, answer.completion_tokens)

    def events(self, answer: Answer, chunks: list[str]) -> tuple[list[bytes], int]:
        events = [
            sse({"type": "message_start", "message": self._message(answer, None, 1)}, "message_start"),
            sse(
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                "content_block_start",
            ),
            sse({"type": "ping"}, "ping"),
        ]
        events += [
            sse(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
                "content_block_delta",
            )
            for piece in chunks
        ]
        events += [
            sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            # usage in message_delta is cumulative (wire-protocols.md §2b)
            sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": self._stop(answer), "stop_sequence": None},
                    "usage": {"output_tokens": answer.completion_tokens},
                },
                "message_delta",
            ),
            sse({"type": "message_stop"}, "message_stop"),
        ]
        return events, 4

    def midstream_error(self) -> bytes:
        return sse({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, "error")


PROTOCOL = AnthropicProtocol()
