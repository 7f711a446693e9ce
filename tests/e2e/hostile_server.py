"""A small OpenAI-compatible server on 127.0.0.1 that reports hostile usage (issue 11's budget tests).

Our own, written on stdlib asyncio (HTTP/1.1 with keep-alive, `POST /v1/chat/completions`, plain or
SSE streamed in chunked encoding). The replies' text is the emulator's team responder (so the team's
run progresses); the usage reported beside it is the hostile part, chosen by `usage`:

- `honest`: ~4 characters a token;
- `cjk`: one token per character of the prompt and the reply (CJK text tokenizes near that);
- `over`: ten times the request's max_tokens of output;
- `huge`: 10**9 input and output tokens;
- `negative`: -9000 input and output tokens;
- `string`: token counts as strings ("12", "many").

`hold` (a predicate on the action's tag) keeps matching requests open until `release()`;
`wait_for(n, pred)` blocks (with a deadline) until the server has seen n such requests.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from polyteam.emulator.responders import ChatRequest
from polyteam.emulator.team_responder import TeamResponder

USAGES = ("honest", "cjk", "over", "huge", "negative", "string")


@dataclass
class Seen:
    tag: str
    max_tokens: int | None
    stream: bool


@dataclass
class HostileServer:
    usage: str = "honest"
    hold: Callable[[str], bool] | None = None
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._responder = TeamResponder()
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._released: asyncio.Event | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    # -- test side ---------------------------------------------------------------------------
    def __enter__(self) -> HostileServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def release(self) -> None:
        """Let held requests (and all later ones) through."""
        self.hold = None
        if self._loop is not None and self._released is not None:
            self._loop.call_soon_threadsafe(self._released.set)

    def wait_for(self, n: int, pred: Callable[[Seen], bool] = lambda s: True, timeout: float = 60) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: sum(pred(s) for s in self.seen) >= n, timeout):
                raise AssertionError(
                    f"the server saw {[s.tag for s in self.seen]}, not {n} matching requests"
                )

    # -- server side -------------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._released = asyncio.Event()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                await self._answer(json.loads(body or b"{}"), writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def _usage(self, messages: list[dict[str, Any]], text: str, max_tokens: int) -> dict[str, Any]:
        prompt_chars = sum(len(str(m.get("content", ""))) for m in messages)
        counts: dict[str, tuple[Any, Any]] = {
            "honest": (prompt_chars // 4 + 1, len(text) // 4 + 1),
            "cjk": (prompt_chars, len(text)),
            "over": (prompt_chars // 4 + 1, 10 * max_tokens),
            "huge": (10**9, 10**9),
            "negative": (-9000, -9000),
            "string": ("12", "many"),
        }
        i, o = counts[self.usage]
        total = i + o if isinstance(i, int) and isinstance(o, int) else "lots"
        return {"prompt_tokens": i, "completion_tokens": o, "total_tokens": total}

    async def _answer(self, body: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        messages = body.get("messages") or []
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 256)
        stream = bool(body.get("stream"))
        reply = self._responder(ChatRequest("openai", str(body.get("model")), messages, max_tokens))
        tag = reply.tag or "?"
        with self._cond:
            self.seen.append(Seen(tag, max_tokens, stream))
            self._cond.notify_all()
        if self.hold is not None and self.hold(tag):
            assert self._released is not None
            await self._released.wait()
        usage = self._usage(messages, reply.text, max_tokens)
        base = {"id": "chatcmpl-hostile", "created": 0, "model": body.get("model") or "m"}
        if not stream:
            data = json.dumps({
                **base, "object": "chat.completion", "usage": usage,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": reply.text}}],
            }).encode()  # fmt: skip
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + f"content-length: {len(data)}\r\n\r\n".encode()
                + data
            )
            await writer.drain()
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        chunk = {"object": "chat.completion.chunk", **base}
        events = [
            {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": reply.text}}]},
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {**chunk, "choices": [], "usage": usage},
        ]
        for event in [*(f"data: {json.dumps(e)}\n\n" for e in events), "data: [DONE]\n\n"]:
            data = event.encode()
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
