"""A replay server: real small-model replies (tests/data/*.jsonl), served over HTTP on 127.0.0.1.

Stdlib asyncio in a thread, OpenAI chat-completions wire (non-streaming and SSE). The matching is
deliberately simple: a request's key is (action from the system line, JSON schema sent or not,
re-ask or first ask); the recorded replies of that key are served in turn (round robin), falling
back to the action's replies of any key, then to "{}". `think=True` puts a reasoning block in front
of every reply (and a `reasoning_content` beside it), so a test can prove no prompt ever carries it. Every request body is kept in
`requests` for the test's assertions.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data"
THINK_MARK = "REASONING-MARK-7f3a"
REASK_PREFIX = "Your previous reply was not usable"


def request_key(messages: list[dict[str, Any]], schema: bool) -> tuple[str, bool, bool]:
    system = next((str(m.get("content", "")) for m in messages if m.get("role") == "system"), "")
    found = re.search(r"running (\w+)", system)
    last = str(messages[-1].get("content", "")) if messages else ""
    return (found.group(1) if found else "?", schema, last.startswith(REASK_PREFIX))


class ReplayServer:
    """Serves recorded replies; `start()` returns once the socket listens; `stop()` closes it."""

    def __init__(self, recordings: list[Path], *, think: bool = False) -> None:
        self.pools: dict[tuple[str, bool, bool], list[str]] = defaultdict(list)
        self.by_action: dict[str, list[str]] = defaultdict(list)
        for path in recordings:
            for line in path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                if entry.get("reply") is None:
                    continue
                key = request_key(entry["messages"], bool(entry.get("grammar")))
                self.pools[key].append(entry["reply"])
                self.by_action[key[0]].append(entry["reply"])
        self.think = think
        self.requests: list[dict[str, Any]] = []
        self._turn: dict[Any, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reply_for(self, body: dict[str, Any]) -> str:
        key = request_key(body.get("messages", []), "response_format" in body)
        with self._lock:
            self.requests.append(body)
            pool = self.pools.get(key) or self.by_action.get(key[0]) or ["{}"]
            turn = self._turn[key]
            self._turn[key] += 1
        text = pool[turn % len(pool)]
        if self.think:
            text = f'<think>Let me think. {THINK_MARK} {{"project_name": "wrong"}}</think>\n{text}'
        return text

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive: one connection may carry several requests
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
                body = json.loads(await reader.readexactly(length))
                payload, ctype = self._answer(body)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
                    + str(len(payload)).encode() + b"\r\n\r\n" + payload
                )  # fmt: skip
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, AttributeError, ValueError):
            pass  # the client closed the connection (or sent nonsense): nothing more to answer
        finally:
            writer.close()

    def _answer(self, body: dict[str, Any]) -> tuple[bytes, bytes]:
        text = self.reply_for(body)
        usage = {"prompt_tokens": 50, "completion_tokens": max(1, len(text) // 4)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if body.get("stream"):
            return self._sse(text, usage), b"text/event-stream"
        message = {"role": "assistant", "content": text}
        if self.think:  # as reasoning servers send it (vLLM, DeepSeek): never part of the answer
            message["reasoning_content"] = f"{THINK_MARK} {{\"project_name\": \"wrong\"}}"
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        reply = {
            "id": "replay",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "replay"),
        }
        return json.dumps({**reply, "choices": [choice], "usage": usage}).encode(), b"application/json"

    @staticmethod
    def _sse(text: str, usage: dict[str, int]) -> bytes:
        chunks = [
            {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage},
        ]
        lines = [
            f"data: {json.dumps({'id': 'replay', 'object': 'chat.completion.chunk', **c})}\n\n"
            for c in chunks
        ]
        return ("".join(lines) + "data: [DONE]\n\n").encode()

    def start(self, timeout: float = 10.0) -> ReplayServer:
        self._thread = threading.Thread(target=self._run, name="replay-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the replay server did not start")
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()
            async with self._server:
                await self._server.serve_forever()

        try:
            loop.run_until_complete(serve())
        except asyncio.CancelledError:
            pass
        finally:
            loop.close()

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is not None and server is not None:
            loop.call_soon_threadsafe(server.close)
            for task in asyncio.all_tasks(loop):
                loop.call_soon_threadsafe(task.cancel)
        if self._thread is not None:
            self._thread.join(10)
