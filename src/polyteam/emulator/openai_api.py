"""The OpenAI Chat Completions wire (wire-protocols.md §2a), as the emulator serves it.

`POST …/v1/chat/completions` (any path prefix) and `GET …/v1/models`. Bearer auth; `response_format`
json_schema/json_object (json_object needs the word "json" in a message, as the real API requires);
non-stream bodies; SSE chunks ending in `data: [DONE]`, with the extra `choices: []` usage chunk only when
`stream_options.include_usage` is set; error envelopes `{"error": {message, type, param, code}}`.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from polyteam.emulator.httpflow import Answer, HttpProtocol, WireError, sse
from polyteam.emulator.quirks import openai_refusal
from polyteam.emulator.responders import ChatRequest
from polyteam.emulator.texts import flatten_content, new_id

ROLES = ("system", "developer", "user", "assistant", "tool")

# kind -> (status, message, type, code); wire-protocols.md §2a "Errors"
ERRORS: dict[str, tuple[int, str, str, str | None]] = {
    "400": (
        400,
        "Invalid request: the emulator was told to reject this request.",
        "invalid_request_error",
        None,
    ),
    "auth": (
        401,
        "Incorrect API key provided: sk-***. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    "429": (
        429,
        "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. "
        "Please try again in 50ms.",
        "requests",
        "rate_limit_exceeded",
    ),
    "quota": (
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    ),
    "500": (
        500,
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    "503": (
        503,
        "The engine is currently overloaded, please try again later",
        "service_unavailable_error",
        "server_is_overloaded",
    ),
    # OpenAI has no 529; the closest real answer is the overloaded 503
    "529": (
        503,
        "The engine is currently overloaded, please try again later",
        "service_unavailable_error",
        "server_is_overloaded",
    ),
    "filter": (
        400,
        "The response was filtered due to the prompt triggering content management policy.",
        "invalid_request_error",
        "content_filter",
    ),
    "context": (
        400,
        "This model's maximum context length is 8192 tokens. However, your messages resulted in "
        "9000 tokens. Please reduce the length of the messages.",
        "invalid_request_error",
        "context_length_exceeded",
    ),
}


def error_response(
    status: int,
    message: str,
    type_: str,
    code: str | None,
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> web.Response:
    """An OpenAI error envelope."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.json_response(body, status=status, headers={"x-request-id": new_id("req_"), **(headers or {})})


class OpenAIProtocol(HttpProtocol):
    """OpenAI and every OpenAI-compatible base."""

    name = "openai"

    def authenticate(self, request: web.Request, accepted: Any) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        key = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not key:
            return error_response(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
                None,
            )
        if accepted and key not in accepted:
            return self.error("auth", 0)
        return None

    def bad_request(self, message: str, param: str | None = None) -> web.Response:
        return error_response(400, message, "invalid_request_error", None, param=param)

    def parse(self, body: Any) -> ChatRequest:
        if not isinstance(body, dict):
            raise WireError(self.bad_request("The request body must be a JSON object."))
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not model:
            raise WireError(self.bad_request("you must provide a model parameter", "model"))
        if not isinstance(messages, list) or not messages:
            raise WireError(self.bad_request("[] is too short - 'messages'", "messages"))
        flat = []
        for index, message in enumerate(messages):
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ROLES:
                raise WireError(
                    self.bad_request(
                        f"Invalid value for 'messages[{index}].role'.", f"messages[{index}].role"
                    )
                )
            flat.append(
                {
                    "role": "system" if role == "developer" else role,
                    "content": flatten_content(message.get("content")),
                }
            )
        schema = self._schema(body.get("response_format"), flat)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return self.chat_request(body, model, flat, max_tokens, schema, include_usage=include_usage)

    def _schema(self, response_format: Any, messages: list[dict[str, str]]) -> dict[str, Any] | None:
        if not isinstance(response_format, dict) or response_format.get("type") in (None, "text"):
            return None
        kind = response_format.get("type")
        if kind == "json_object":
            if not any("json" in m["content"].lower() for m in messages):
                raise WireError(
                    self.bad_request(
                        "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                        "'json_object'.",
                        "messages",
                    )
                )
            return {"type": "object"}
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            if (
                not isinstance(spec, dict)
                or not isinstance(spec.get("schema", {}), dict)
                or not spec.get("name")
            ):
                raise WireError(
                    self.bad_request(
                        "Missing required parameter: 'response_format.json_schema.name'.",
                        "response_format.json_schema",
                    )
                )
            return spec.get("schema") or {"type": "object"}
        raise WireError(
            self.bad_request(
                f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', and 'text'.",
                "response_format.type",
            )
        )

    def refusal(self, body: dict[str, Any], chat: ChatRequest) -> web.Response | None:
        refused = openai_refusal(body, chat.model, chat.stream)
        if refused is None:
            return None
        status, envelope = refused
        return web.json_response(envelope, status=status, headers={"x-request-id": new_id("req_")})

    def error(self, kind: str, retry_after_ms: int) -> web.Response:
        status, message, type_, code = ERRORS[kind]
        headers = {}
        if kind == "429":
            headers = {
                "Retry-After": str(retry_after_ms // 1000),
                "retry-after-ms": str(retry_after_ms),
                "x-ratelimit-limit-requests": "3",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": f"{retry_after_ms}ms",
            }
        return error_response(status, message, type_, code, headers)

    def headers(self) -> dict[str, str]:
        return {
            "x-request-id": new_id("req_"),
            "openai-processing-ms": "1",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-reset-requests": "6ms",
        }

    def _usage(self, answer: Answer) -> dict[str, Any]:
        return {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.total_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }

    def body(self, answer: Answer) -> dict[str, Any]:
        return {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": answer.chat.model,
            "system_fingerprint": "fp_emulator",
            "service_tier": "default",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "length" if answer.truncated_by_max_tokens else "stop",
                    "logprobs": None,
                    "message": {
                        "role": "assistant",
                        "content": answer.text,
                        "refusal": None,
                        "tool_calls": None,
                    },
                }
            ],
            "usage": self._usage(answer),
        }

    def events(self, answer: Answer, chunks: list[str]) -> tuple[list[bytes], int]:
        base = {
            "id": new_id("chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": answer.chat.model,
            "system_fingerprint": "fp_emulator",
        }
        with_usage = answer.chat.extra.get("include_usage", False)

        def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
            data = {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if with_usage:
                data["usage"] = None
            return sse(data)

        events = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
        events += [chunk({"content": piece}, None) for piece in chunks]
        events.append(chunk({}, "length" if answer.truncated_by_max_tokens else "stop"))
        if with_usage:
            events.append(sse({**base, "choices": [], "usage": self._usage(answer)}))
        events.append(sse("[DONE]"))
        return events, 2

    def midstream_error(self) -> bytes:
        return sse(
            {
                "error": {
                    "message": "The server had an error while processing your request. Sorry about that!",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
        )


PROTOCOL = OpenAIProtocol()


def models(request: web.Request) -> web.Response:
    """GET …/v1/models: one model, so clients that list models before calling get an answer."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        return PROTOCOL.authenticate(request, None) or web.Response(status=401)
    data = [
        {"id": name, "object": "model", "created": 1700000000, "owned_by": "polyteam-emulator"}
        for name in ("gpt-4o-mini", "emulated")
    ]
    return web.json_response({"object": "list", "data": data})
