"""The request flow shared by the emulator's HTTP protocols (openai, anthropic, zhipu), and their base class.

Order for every request: authenticate -> parse the body -> ask the responder -> pick a fault (it may match
the responder's tag) -> wait `latency_ms` -> answer: an error envelope, a held request (`timeout`), a body,
or an SSE stream (possibly cut, or broken by an in-stream error). Each protocol module says only what its
wire looks like (`HttpProtocol`); the serving order, logging and fault mechanics live here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from polyteam.emulator.faults import ERROR_KINDS
from polyteam.emulator.responders import ChatRequest, ResponderError, call_responder
from polyteam.emulator.texts import corrupt, cut_to_max_tokens, estimate_tokens, prompt_tokens, split_chunks

if TYPE_CHECKING:
    from polyteam.emulator.host import Host
    from polyteam.emulator.requestlog import Record


class WireError(Exception):
    """Raised while parsing a request: `response` is the protocol's error envelope to send back."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


class Stopping(Exception):
    """The emulator is shutting down while this request waits; drop the connection."""


@dataclass
class Answer:
    """What will be sent: the (possibly corrupted, possibly cut) text and its usage."""

    chat: ChatRequest
    text: str
    truncated_by_max_tokens: bool
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class HttpProtocol:
    """One HTTP wire: how it authenticates, parses, answers, streams and fails."""

    name = "?"

    def authenticate(self, request: web.Request, accepted: Any) -> web.Response | None:
        """None when the credentials are acceptable, else the 401/400 envelope."""
        raise NotImplementedError

    def parse(self, body: Any) -> ChatRequest:
        """The ChatRequest for a JSON body. Raises: WireError with a 400 envelope."""
        raise NotImplementedError

    def bad_request(self, message: str) -> web.Response:
        """A 400 envelope with this message."""
        raise NotImplementedError

    def chat_request(
        self,
        body: dict[str, Any],
        model: str,
        messages: list[dict[str, str]],
        max_tokens: Any,
        json_schema: dict[str, Any] | None,
        **extra: Any,
    ) -> ChatRequest:
        """What `parse` returns once the body checked out: `max_tokens` kept when it is an integer,
        `stream` as the body says, `extra` for what only this protocol needs later."""
        return ChatRequest(
            protocol=self.name,
            model=model,
            messages=messages,
            max_tokens=max_tokens if isinstance(max_tokens, int) else None,
            json_schema=json_schema,
            stream=bool(body.get("stream")),
            extra=extra,
        )

    def error(self, kind: str, retry_after_ms: int) -> web.Response:
        """The protocol's answer for an error fault kind (faults.ERROR_KINDS)."""
        raise NotImplementedError

    def refusal(self, body: dict[str, Any], chat: ChatRequest) -> web.Response | None:
        """Where the real service refuses this well-formed request (the strict emulator: quirks.py)."""
        return None

    def body(self, answer: Answer) -> dict[str, Any]:
        """The non-stream JSON reply."""
        raise NotImplementedError

    def events(self, answer: Answer, chunks: list[str]) -> tuple[list[bytes], int]:
        """The SSE events of a streamed reply, and the index just after the first content event
        (where `truncate` cuts and `midstream` breaks in)."""
        raise NotImplementedError

    def midstream_error(self) -> bytes:
        """The in-stream error event."""
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        """Extra headers on every successful reply (request ids, rate-limit headers)."""
        return {}


def sse(data: Any, event: str | None = None, *, space: bool = True) -> bytes:
    """One SSE event: optional `event:` line, a `data:` line, blank line."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data:{' ' if space else ''}{payload}\n\n".encode()


async def serve_http(emu: Host, proto: HttpProtocol, request: web.Request) -> web.StreamResponse:
    """Serve one request of `proto`, logging it whatever happens (also when the client goes away)."""
    record = emu.log.begin(proto.name, request.path)
    try:
        return await _serve(emu, proto, request, record)
    except Stopping:
        _drop(request)
        return web.Response(status=503)
    finally:
        emu.log.end(record)


async def _serve(emu: Host, proto: HttpProtocol, request: web.Request, record: Record) -> web.StreamResponse:
    denied = proto.authenticate(request, emu.credentials.get(proto.name))
    if denied is not None:
        record.status = denied.status
        return denied
    try:
        body = json.loads(await request.read() or b"null")
        chat = proto.parse(body)
    except (ValueError, UnicodeDecodeError):
        record.status = 400
        return proto.bad_request("The request body is not valid JSON.")
    except WireError as exc:
        record.status = exc.response.status
        record.model = (
            body.get("model") if isinstance(body, dict) and isinstance(body.get("model"), str) else None
        )
        return exc.response
    record.model, record.stream = chat.model, chat.stream
    refused = proto.refusal(body, chat) if emu.strict else None
    if refused is not None:
        record.status = refused.status
        return refused
    record.prompt_tokens = prompt_tokens(chat.messages)
    try:
        reply = await call_responder(emu.responder, chat)
    except ResponderError:
        response = proto.error("500", emu.retry_after_ms)
        record.status = response.status
        return response
    record.tag = reply.tag
    fault = emu.faults.pick(proto.name, chat.model, reply.tag)
    record.fault = fault
    await emu.pause(emu.latency_s)
    if fault in ERROR_KINDS:
        response = proto.error(fault, emu.retry_after_ms)
        record.status = response.status
        return response
    if fault == "timeout":
        await emu.hold()  # returns only by raising Stopping; a client disconnect cancels the handler
    text = corrupt(reply.text) if fault == "malformed" else reply.text
    text, cut = cut_to_max_tokens(text, chat.max_tokens)
    answer = Answer(chat, text, cut, record.prompt_tokens, estimate_tokens(text))
    record.completion_tokens = answer.completion_tokens
    record.status = 200
    if not chat.stream:
        # a reply that is not streamed can only break by being cut off, whatever the fault's name
        if fault in ("truncate", "wsclose", "midstream"):
            return await _partial_body(request, proto.body(answer), lambda: emu.log.end(record))
        return web.json_response(proto.body(answer), headers=proto.headers(), dumps=_dumps)
    return await _stream(emu, proto, request, answer, fault, lambda: emu.log.end(record))


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


async def _partial_body(
    request: web.Request, body: dict[str, Any], finish: Callable[[], object]
) -> web.StreamResponse:
    """Announce the whole body's length, send half of it, then close the connection."""
    data = _dumps(body).encode()
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = len(data)
    await response.prepare(request)
    await response.write(data[: len(data) // 2])
    finish()
    _drop(request)
    return response


async def _stream(
    emu: Host,
    proto: HttpProtocol,
    request: web.Request,
    answer: Answer,
    fault: str | None,
    finish: Callable[[], object],
) -> web.StreamResponse:
    """Write the SSE events; `finish` logs the record just before the last event (or the drop)."""
    events, cut = proto.events(answer, split_chunks(answer.text))
    if fault in ("truncate", "wsclose"):
        events = events[:cut]
    elif fault == "midstream":
        events = [*events[:cut], proto.midstream_error()]
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            **proto.headers(),
        },
    )
    await response.prepare(request)
    for index, event in enumerate(events):
        if index and emu.chunk_latency_s:
            await emu.pause(emu.chunk_latency_s)
        if index == len(events) - 1 and fault not in ("truncate", "wsclose"):
            finish()
        await response.write(event)
    if fault in ("truncate", "wsclose"):
        finish()
        _drop(request)
        return response
    await response.write_eof()
    return response


def _drop(request: web.Request) -> None:
    """Close the connection under the response (data already written is still delivered)."""
    if request.transport is not None:
        request.transport.close()
