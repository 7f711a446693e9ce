"""The lean OpenAI-compatible client (`providers/_chat_wire.py`, issue 15): no SDK import, and SSE
decoded as the SDK decodes it, from a server of our own that splits its stream at awkward places."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from _provider_endpoints import endpoint_for

from polyteam.errors import ServerError
from polyteam.providers.base import CallOptions, Completion, Delta, Message
from polyteam.providers.openai import OpenAIProvider

HELLO = [Message("user", "hello")]


def test_a_call_through_the_openai_provider_never_imports_the_sdk(emulator: Any) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from polyteam.providers.base import CallOptions, Endpoint, Message
        from polyteam.providers.openai import OpenAIProvider

        async def main():
            endpoint = Endpoint(llm="x", kind="open_llm", base_url="{emulator.base_url}/v1", model="m")
            provider = OpenAIProvider(endpoint)
            try:
                print((await provider.complete([Message("user", "hi")], CallOptions())).text)
            finally:
                await provider.aclose()

        asyncio.run(main())
        print("sdk imported:", "openai" in sys.modules, "aiohttp" in sys.modules)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["echo: hi", "sdk imported: False False"]


def _chunk(content: str | None, finish: str | None = None) -> str:
    delta = {} if content is None else {"content": content}
    chunk = {"model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return json.dumps(chunk, ensure_ascii=False)


class Splitter:
    """Streams a fixed SSE body in the pieces given, each written and drained on its own."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        for piece in self.pieces:
            writer.write(piece)
            await writer.drain()
        writer.close()


async def _streamed(pieces: list[bytes]) -> list[Delta | Completion]:
    server = Splitter(pieces)
    await server.start()
    provider = OpenAIProvider(endpoint_for("open_llm", server, base_url=f"{server.base_url}/v1"))
    try:
        return [item async for item in provider.stream(HELLO, CallOptions())]
    finally:
        await provider.aclose()
        await server.stop()


@pytest.fixture
def body() -> bytes:
    # CRLF, LF and CR line ends; a comment; a data field split over two lines; the usage chunk; [DONE]
    return (
        b": keep-alive\r\n\r\n"
        + f"data: {_chunk('Hel')}\r\n\r\n".encode()
        + f"data: {_chunk('lo, ')}\n\n".encode()
        + f"event: message\rdata: {_chunk('wörld')}\r\r".encode()
        + b'data: {"model": "m", "choices": [{"index": 0, "delta": {}, \n'
        + b'data: "finish_reason": "stop"}]}\n\n'
        + b'data: {"model": "m", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}\n\n'
        + b"data: [DONE]\n\n"
    )


async def test_a_stream_split_anywhere_decodes_the_same(body: bytes) -> None:
    whole = await _streamed([body])
    assert [getattr(i, "text", None) for i in whole[:-1]] == ["Hel", "lo, ", "wörld"]
    last = whole[-1]
    assert isinstance(last, Completion) and last.text == "Hello, wörld" and not last.estimated
    assert (last.input_tokens, last.output_tokens, last.finish_reason) == (3, 4, "stop")
    # every line end (CR before its LF, the UTF-8 of "ö") cut across two writes
    cuts = sorted(
        {body.index(b"\r\n") + 1, body.index(b"\r\r") + 1, body.index("ö".encode()) + 1, body.index(b"\n\n")}
    )
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    assert [repr(i) for i in await _streamed(pieces)] == [repr(i) for i in whole]


async def test_a_stream_that_is_not_utf8_is_a_malformed_server_error() -> None:
    with pytest.raises(ServerError, match="malformed"):
        await _streamed([b'data: {"choices": [{"delta": {"content": "\xff\xfe"}}]}\n\n', b"data: [DONE]\n\n"])
