"""The Zhipu GLM v4 wire (wire-protocols.md §2d), as the emulator serves it.

`POST …/api/paas/v4/chat/completions`. `Authorization: Bearer <key|jwt>` or a bare `<key|jwt>`; with
credentials the key or the HS256 JWT (ms `exp`) is verified (signing.verify_zhipu_token). Replies have no
`object` field; the last stream chunk carries `finish_reason` and `usage`, then `data: [DONE]`. Errors are
`{"error": {"code": "<digits as a string>", "message": …}}`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from polyteam.emulator.httpflow import Answer, HttpProtocol, WireError, sse
from polyteam.emulator.responders import ChatRequest
from polyteam.emulator.signing import verify_zhipu_token
from polyteam.emulator.texts import flatten_content

# kind -> (status, code, message); codes from docs.bigmodel.cn (wire-protocols.md §2d)
ERRORS: dict[str, tuple[int, str, str]] = {
    "400": (400, "1210", "API 调用参数有误，请检查文档。"),
    "auth": (401, "1002", "Authorization Token非法，请确认Authorization Token正确传递。"),
    "429": (429, "1302", "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。"),
    "quota": (429, "1113", "余额不足或无可用资源包,请充值。"),
    "500": (500, "500", "内部错误。"),
    "503": (503, "1305", "当前API请求过多，请稍后重试。"),
    "529": (503, "1312", "该模型当前访问量过大，请您稍后再试。"),
    "filter": (
        400,
        "1301",
        "系统检测到输入或生成内容可能包含不安全或敏感内容，请您避免输入易产生敏感内容的提示语。",
    ),
    "context": (400, "1261", "Prompt 超长"),
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """A Zhipu error envelope (string code)."""
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers, dumps=_dumps
    )


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _request_id() -> str:
    return str(time.time_ns())


class ZhipuProtocol(HttpProtocol):
    """Zhipu GLM v4 chat completions."""

    name = "zhipu"

    def authenticate(self, request: web.Request, accepted: Any) -> web.Response | None:
        rejection = verify_zhipu_token(request.headers.get("Authorization"), accepted or None)
        if rejection is None:
            return None
        return error_response(rejection.status, rejection.code or "1002", rejection.message)

    def bad_request(self, message: str) -> web.Response:
        return error_response(400, "1210", message)

    def parse(self, body: Any) -> ChatRequest:
        if not isinstance(body, dict):
            raise WireError(self.bad_request("请求体必须是 JSON 对象。"))
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not model:
            raise WireError(error_response(400, "1214", "model 参数非法。"))
        if not isinstance(messages, list) or not messages:
            raise WireError(error_response(400, "1214", "messages 参数非法。"))
        flat = []
        for message in messages:
            role = message.get("role") if isinstance(message, dict) else None
            if role not in ("system", "user", "assistant", "tool"):
                raise WireError(error_response(400, "1214", "messages 参数非法：role 取值错误。"))
            flat.append({"role": role, "content": flatten_content(message.get("content"))})
        response_format = body.get("response_format")
        schema = None
        if isinstance(response_format, dict) and response_format.get("type") == "json_object":
            schema = {"type": "object"}
        elif isinstance(response_format, dict) and response_format.get("type") == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
        return self.chat_request(body, model, flat, body.get("max_tokens"), schema)

    def error(self, kind: str, retry_after_ms: int) -> web.Response:
        status, code, message = ERRORS[kind]
        headers = None
        if kind == "429":
            # the Zhipu SDK ignores these (wire-protocols.md §2d); other clients may honour them
            headers = {"Retry-After": str(retry_after_ms // 1000), "retry-after-ms": str(retry_after_ms)}
        return error_response(status, code, message, headers)

    def _usage(self, answer: Answer) -> dict[str, int]:
        return {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.total_tokens,
        }

    def _finish(self, answer: Answer) -> str:
        return "length" if answer.truncated_by_max_tokens else "stop"

    def body(self, answer: Answer) -> dict[str, Any]:
        request_id = _request_id()
        return {
            "id": request_id,
            "request_id": request_id,
            "created": int(time.time()),
            "model": answer.chat.model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": self._finish(answer),
                    "message": {"role": "assistant", "content": answer.text, "tool_calls": None},
                }
            ],
            "usage": self._usage(answer),
        }

    def events(self, answer: Answer, chunks: list[str]) -> tuple[list[bytes], int]:
        base = {"id": _request_id(), "created": int(time.time()), "model": answer.chat.model}

        def chunk(content: str, finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
            data: dict[str, Any] = {
                **base,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": finish}
                ],
            }
            if usage is not None:
                data["usage"] = usage
            return sse(data)

        events = [chunk(piece) for piece in chunks or [""]]
        events.append(chunk("", self._finish(answer), self._usage(answer)))
        events.append(sse("[DONE]"))
        return events, 1

    def midstream_error(self) -> bytes:
        return sse({"error": {"code": "500", "message": "内部错误。"}})


PROTOCOL = ZhipuProtocol()
