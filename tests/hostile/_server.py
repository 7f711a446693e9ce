"""A hostile OpenAI-compatible server of our own (stdlib asyncio on 127.0.0.1), not the emulator.

It answers `POST .../chat/completions` (plain and streamed) with replies a test scripts per action:
file names that collide with polyteam's own docs or with each other, `../x`, bidi/zero-width/ESC
names, the caller's own API key echoed back, a previous project's name, failures on request. It
records every request (headers and messages) so a test can check what polyteam sent onward.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_ACTION = re.compile(r"You are (\w+) running (\w+)\.")
_FILE = re.compile(r"^File:[ \t]*(.*)$", re.MULTILINE)


@dataclass
class Request:
    """One request as received: its path, headers (lower-cased), JSON body, action and file."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    action: str
    filename: str

    @property
    def api_key(self) -> str:
        return self.headers.get("authorization", "").removeprefix("Bearer ").strip()

    @property
    def prompt(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))


#: a script: (request) -> the reply text, or an int HTTP status to fail with
Script = Callable[[Request], "str | int"]


@dataclass
class HostileServer:
    script: Script
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> HostileServer:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            self._server.close()
            self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="hostile-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the hostile server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if not await self._respond(method, path, headers, body, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _respond(
        self, method: str, path: str, headers: dict[str, str], raw: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        if method != "POST" or not path.endswith("/chat/completions"):
            self._send(writer, 404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return True
        body = json.loads(raw or b"{}")
        text = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        action = (_ACTION.search(text) or [None, None, ""])[2]
        filename = (_FILE.search(text) or [None, ""])[1].strip()
        request = Request(path, headers, body, action, filename)
        with self._lock:
            self.requests.append(request)
        reply = self.script(request)
        if isinstance(reply, int):
            self._send(
                writer, reply, {"error": {"message": "scripted failure", "type": "invalid_request_error"}}
            )
            return True
        model = body.get("model", "m")
        if body.get("stream"):
            self._stream(writer, model, reply)
            await writer.drain()
            return False
        self._send(writer, 200, {
            "id": "chatcmpl-hostile", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        })  # fmt: skip
        await writer.drain()
        return True

    @staticmethod
    def _send(writer: asyncio.StreamWriter, status: int, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        writer.write(
            f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n".encode()
            + data
        )

    @staticmethod
    def _stream(writer: asyncio.StreamWriter, model: str, reply: str) -> None:
        def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
            doc = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
                   "usage": usage}  # fmt: skip
            return f"data: {json.dumps(doc)}\n\n".encode()

        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n")
        writer.write(chunk({"role": "assistant", "content": reply}))
        writer.write(chunk({}, "stop"))
        writer.write(chunk({}, usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}))
        writer.write(b"data: [DONE]\n\n")
