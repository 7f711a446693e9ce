"""The iFlytek Spark WebSocket wire (wire-protocols.md §2c), as the emulator serves it.

`GET /v1.1/chat`, `/v2.1/chat`, `/v3.1/chat`, `/v3.5/chat`, `/v4.0/chat`, `/chat/pro-128k`, `/chat/max-32k`
(also under a path prefix). The handshake's signed query is verified before upgrading; failures are plain
HTTP 401/403 JSON bodies like the real gateway's. Then one request per socket: one JSON frame in, frames
with status 0/1/2 and `seq` out, usage only on the last frame, and the server closes. Errors after the
handshake are frames with `header.code != 0`. A `domain` that does not match the path is error 10005
(parameter value error).
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from polyteam.emulator.faults import ERROR_KINDS
from polyteam.emulator.httpflow import Stopping
from polyteam.emulator.responders import ChatRequest, ResponderError, call_responder
from polyteam.emulator.signing import verify_spark_url
from polyteam.emulator.texts import corrupt, cut_to_max_tokens, estimate_tokens, prompt_tokens, split_chunks
from polyteam.providers.spark_spec import SPARK_DOMAINS

if TYPE_CHECKING:
    from polyteam.emulator.host import Host
    from polyteam.emulator.requestlog import Record

#: chat path -> domains it serves (the first is the canonical one): the one table, polyteam's own
DOMAINS: dict[str, tuple[str, ...]] = SPARK_DOMAINS
#: prompt token limits; others 8192 (over it: 10907)
LIMITS = {"/chat/pro-128k": 128_000, "/chat/max-32k": 32_768}

# fault kind -> (code, message); codes from the websdk-java error table (wire-protocols.md §2c)
ERRORS: dict[str, tuple[int, str]] = {
    "400": (10004, "invalid message schema"),
    "auth": (11200, "auth no license"),
    "429": (11202, "licc limit: per-second flow limit exceeded"),
    "quota": (11201, "licc limit: daily flow limit exceeded"),
    "500": (10012, "engine internal error"),
    "503": (10008, "service capacity not enough"),
    "529": (10008, "service capacity not enough"),
    "filter": (10013, "input content audit failed"),
    "context": (10907, "token count exceeds the limit"),
}


def chat_path(path: str) -> str | None:
    """The Spark chat path this request path ends with, or None."""
    for known in DOMAINS:
        if path == known or path.endswith(known):
            return known
    return None


def _sid() -> str:
    return f"cht000{secrets.token_hex(4)}@dx{secrets.token_hex(8)}"


async def serve(emu: Host, request: web.Request) -> web.StreamResponse:
    """Serve one Spark WebSocket session, logging it whatever happens."""
    known = chat_path(request.path)
    assert known is not None
    record = emu.log.begin("spark", request.path)
    record.model, record.stream = DOMAINS[known][0], True
    ws: web.WebSocketResponse | None = None
    try:
        rejected = _handshake(emu, request, record)
        if rejected is not None:
            return rejected
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await _session(emu, request, ws, known, record)
        return ws
    except Stopping:
        if request.transport is not None:
            request.transport.close()
        return ws or web.Response(status=503)
    finally:
        emu.log.end(record)


def _handshake(emu: Host, request: web.Request, record: Record) -> web.Response | None:
    """The plain-HTTP refusal of a handshake, or None to upgrade."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        record.status = 400
        return web.json_response({"message": "WebSocket upgrade required"}, status=400)
    rejection = verify_spark_url(
        dict(request.query), request.host, request.path, emu.credentials.get("spark")
    )
    if rejection is None and emu.faults.pick("spark", record.model, None, only=frozenset({"auth"})):
        record.fault = "auth"
        rejection_status, message = 401, "HMAC signature does not match"
    elif rejection is not None:
        rejection_status, message = rejection.status, rejection.message
    else:
        return None
    record.status = rejection_status
    return web.json_response({"message": message}, status=rejection_status)


async def _error_frame(
    emu: Host, ws: web.WebSocketResponse, record: Record, code: int, message: str, sid: str
) -> None:
    record.status = code
    emu.log.end(record)  # logged before the client can see the end of its answer
    await ws.send_str(json.dumps({"header": {"code": code, "message": message, "sid": sid, "status": 2}}))
    await ws.close()


def _parse(frame: Any, known: str) -> ChatRequest | tuple[int, str]:
    """The ChatRequest of a request frame, or (code, message) for an error frame."""
    if not isinstance(frame, dict):
        return 10003, "invalid message format: not a JSON object"
    header, parameter, payload = frame.get("header"), frame.get("parameter"), frame.get("payload")
    if not isinstance(header, dict) or not header.get("app_id"):
        return 10004, "invalid message schema: header.app_id is required"
    chat = parameter.get("chat") if isinstance(parameter, dict) else None
    texts = ((payload or {}).get("message") or {}).get("text") if isinstance(payload, dict) else None
    if not isinstance(chat, dict) or not isinstance(texts, list) or not texts:
        return 10004, "invalid message schema: parameter.chat and payload.message.text are required"
    domain = chat.get("domain")
    if domain not in DOMAINS[known]:
        return (
            10005,
            f"invalid parameter value: domain {domain!r} is not served at {known} (use {DOMAINS[known][0]})",
        )
    messages = []
    for item in texts:
        if not isinstance(item, dict) or item.get("role") not in ("system", "user", "assistant", "function"):
            return 10004, "invalid message schema: payload.message.text[].role"
        messages.append({"role": item["role"], "content": str(item.get("content", ""))})
    max_tokens = chat.get("max_tokens")
    return ChatRequest(
        protocol="spark",
        model=domain,
        messages=messages,
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        stream=True,
    )


async def _session(
    emu: Host, request: web.Request, ws: web.WebSocketResponse, known: str, record: Record
) -> None:
    message = await emu.race(ws.receive())
    if message.type != WSMsgType.TEXT:
        await ws.close()
        return
    sid = _sid()
    try:
        parsed = _parse(json.loads(message.data), known)
    except ValueError:
        parsed = (10003, "invalid message format: not JSON")
    if isinstance(parsed, tuple):
        await _error_frame(emu, ws, record, *parsed, sid)
        return
    chat = parsed
    record.model = chat.model
    record.prompt_tokens = prompt_tokens(chat.messages)
    if record.prompt_tokens > LIMITS.get(known, 8192):
        await _error_frame(emu, ws, record, *ERRORS["context"], sid)
        return
    try:
        reply = await call_responder(emu.responder, chat)
    except ResponderError:
        await _error_frame(emu, ws, record, *ERRORS["500"], sid)
        return
    record.tag = reply.tag
    fault = emu.faults.pick("spark", chat.model, reply.tag)
    record.fault = fault
    await emu.pause(emu.latency_s)
    if fault in ERROR_KINDS:
        await _error_frame(emu, ws, record, *ERRORS[fault], sid)
        return
    if fault == "timeout":
        await emu.hold()
    text = corrupt(reply.text) if fault == "malformed" else reply.text
    text, _ = cut_to_max_tokens(text, chat.max_tokens)
    record.completion_tokens = estimate_tokens(text)
    record.status = 200
    frames = _frames(chat, text, sid, record)
    if fault in ("truncate", "wsclose", "midstream"):
        frames = frames[:1]
    for index, frame in enumerate(frames):
        if index and emu.chunk_latency_s:
            await emu.pause(emu.chunk_latency_s)
        if index == len(frames) - 1 and fault not in ("truncate", "wsclose", "midstream"):
            emu.log.end(record)  # logged before the client can see the status-2 frame
        await ws.send_str(frame)
    if fault in ("truncate", "wsclose"):
        emu.log.end(record)
    if fault == "truncate":  # the TCP connection just ends: no close frame, no status 2
        if request.transport is not None:
            request.transport.close()
        return
    if fault == "midstream":
        await _error_frame(emu, ws, record, *ERRORS["500"], sid)
        return
    await ws.close()  # one request per socket; with `wsclose` this clean close comes before status 2


def _frames(chat: ChatRequest, text: str, sid: str, record: Record) -> list[str]:
    chunks = split_chunks(text, 48)
    while len(chunks) < 2:
        chunks.append("")
    frames = []
    last = len(chunks) - 1
    for seq, piece in enumerate(chunks):
        status = 0 if seq == 0 else 2 if seq == last else 1
        payload: dict[str, Any] = {
            "choices": {
                "status": status,
                "seq": seq,
                "text": [{"content": piece, "role": "assistant", "index": 0}],
            }
        }
        if status == 2:
            question = estimate_tokens(chat.last_user)
            payload["usage"] = {
                "text": {
                    "question_tokens": question,
                    "prompt_tokens": record.prompt_tokens,
                    "completion_tokens": record.completion_tokens,
                    "total_tokens": record.prompt_tokens + record.completion_tokens,
                }
            }
        frames.append(
            json.dumps(
                {
                    "header": {"code": 0, "message": "Success", "sid": sid, "status": status},
                    "payload": payload,
                },
                ensure_ascii=False,
            )
        )
    return frames
