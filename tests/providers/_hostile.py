"""A hostile OpenAI-compatible server of our own: each path prefix misbehaves in one way.

/bad-utf8   a 200 whose body is not UTF-8      /string-usage  usage.prompt_tokens is "lots"
/negative   usage.completion_tokens is -5      /huge          a reply of 1 MB whatever max_tokens says
/silent     accepts the request, never answers /stall         a stream that sends one chunk, then nothing
/good       a normal reply ("fine")
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from aiohttp import web


def _reply(content: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-h",
        "object": "chat.completion",
        "created": 0,
        "model": "hostile",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
        ],
        "usage": usage,
    }


USAGE = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}


class Hostile:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.sent = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self.port = 0

    def base(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}/v1"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        behaviour = request.path.strip("/").split("/")[0]
        self.hits[behaviour] = self.hits.get(behaviour, 0) + 1
        body = await request.json()
        if behaviour == "bad-utf8":
            raw = (
                json.dumps(_reply("PLACEHOLDER", USAGE)).encode().replace(b"PLACEHOLDER", b"ok \xff\xfe bad")
            )
            return web.Response(body=raw, content_type="application/json")
        if behaviour == "string-usage":
            return web.json_response(_reply("fine", {**USAGE, "prompt_tokens": "lots"}))
        if behaviour == "negative":
            return web.json_response(_reply("fine", {**USAGE, "completion_tokens": -5}))
        if behaviour == "huge" and body.get("stream"):
            return await self._endless(request)
        if behaviour == "huge":
            return web.json_response(_reply("x" * 1_000_000, USAGE))
        if behaviour == "bad-request-id":  # a 500 naming itself with junk, markup and the caller's key
            key = request.headers.get("Authorization", "").removeprefix("Bearer ")
            rid = f"req_<b>{'9' * 30}</b>;{key};" + "x" * 300
            return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=500,
                                     headers={"x-request-id": rid})  # fmt: skip
        if behaviour in ("silent", "stall"):
            assert self._stop is not None
            if behaviour == "stall" and body.get("stream"):
                response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
                await response.prepare(request)
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "hostile",
                         "choices": [{"index": 0, "delta": {"content": "one"}, "finish_reason": None}]}  # fmt: skip
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await self._stop.wait()  # until the test ends (a client hang-up cancels the handler)
            return web.Response(status=503)
        return web.json_response(_reply("fine", USAGE))

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        """A stream of 1,000-character chunks until the client stops reading (at most 10 MB)."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "hostile",
                 "choices": [{"index": 0, "delta": {"content": "y" * 1000}, "finish_reason": None}]}  # fmt: skip
        event = f"data: {json.dumps(chunk)}\n\n".encode()
        self.sent = 0
        try:
            for _ in range(10_000):
                await response.write(event)
                self.sent += 1
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: what this test wants
        return response

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self.port = runner.addresses[0][1]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def __enter__(self) -> Hostile:
        self._thread.start()
        assert self._ready.wait(30), "the hostile server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
