"""Plain-http bases build no TLS context (issue 15); a redirect to https:// is still verified."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _provider_endpoints import endpoint_for
from test_proxy import ForwardProxy

from polyteam.errors import TransportError
from polyteam.providers.anthropic import AnthropicProvider
from polyteam.providers.base import CallOptions, Message
from polyteam.providers.openai import OpenAIProvider

MESSAGES = [Message("user", "hello")]
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture
def ca_loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every load of a CA store from now on (what building a verifying TLS context does)."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    loads: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args)
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    return loads


async def test_plain_http_claude_clients_build_no_tls_context(emulator: Any, ca_loads: list[object]) -> None:
    # the OpenAI-compatible twin of this test is in test_openai.py
    providers = [AnthropicProvider(endpoint_for("claude", emulator)) for _ in range(3)]
    try:
        for provider in providers:
            assert (await provider.complete(MESSAGES, CallOptions())).text == "echo: hello"
    finally:
        for provider in providers:
            await provider.aclose()
    assert ca_loads == []
    # an https:// endpoint keeps the SDK's own client and its verifying TLS set-up
    secure = AnthropicProvider(endpoint_for("claude", emulator, base_url="https://api.example.invalid"))
    await secure.aclose()
    assert len(ca_loads) == 1


class Redirector:
    """Answers every request with a 307 to an https:// address on 127.0.0.1, whose TLS side hangs up."""

    def __init__(self) -> None:
        self.hits = 0
        self.tls_connects = asyncio.Event()
        self._servers: list[asyncio.Server] = []

    async def start(self) -> None:
        self._servers = [
            await asyncio.start_server(self._redirect, "127.0.0.1", 0),
            await asyncio.start_server(self._hang_up, "127.0.0.1", 0),
        ]

    def port(self, n: int) -> int:
        return int(self._servers[n].sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
            await server.wait_closed()

    async def _redirect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.hits += 1
        where = f"https://127.0.0.1:{self.port(1)}/v1/chat/completions"
        writer.write(f"HTTP/1.1 307 Moved\r\nLocation: {where}\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    async def _hang_up(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tls_connects.set()
        writer.close()


@pytest.fixture
async def redirector() -> AsyncIterator[Redirector]:
    server = Redirector()
    await server.start()
    yield server
    await server.stop()


async def test_a_redirect_to_https_builds_the_verifying_context_then(
    emulator: Any, ca_loads: list[object], redirector: Redirector
) -> None:
    base = f"http://127.0.0.1:{redirector.port(0)}/v1"
    provider = OpenAIProvider(endpoint_for("open_llm", emulator, base_url=base))
    try:
        assert ca_loads == []
        with pytest.raises(TransportError):
            await provider.complete(MESSAGES, CallOptions())
    finally:
        await provider.aclose()
    assert redirector.hits == 1 and redirector.tls_connects.is_set()
    assert len(ca_loads) == 1  # httpcore2's default context: the system CA store, as httpx verifies


async def test_an_environment_proxy_still_carries_a_plain_http_request(
    emulator: Any, ca_loads: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = ForwardProxy()
    await proxy.start()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    provider = OpenAIProvider(endpoint_for("open_llm", emulator))
    try:
        assert (await provider.complete(MESSAGES, CallOptions())).text == "echo: hello"
    finally:
        await provider.aclose()
        await proxy.stop()
    assert proxy.seen == [f"POST {emulator.base_url}/llama/v1/chat/completions"]


REPLY = (
    b'{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"fine"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}'
)


class ClosesAfterEachReply:
    """Answers one request per connection, says `keep-alive`, then closes: the pool must see each
    idle connection as closed (`is_readable`) and open a new one, never send on a dead one."""

    def __init__(self) -> None:
        self.connections = 0
        self.closed = asyncio.Event()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n")) if k.lower() == b"content-length")
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(REPLY), REPLY))  # fmt: skip
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        self.closed.set()


async def test_a_connection_the_server_closed_is_never_reused(emulator: Any) -> None:
    # issue 15: the pool's streams look their socket up once; readability must still be asked each time
    server = ClosesAfterEachReply()
    base = await server.start()
    provider = OpenAIProvider(endpoint_for("open_llm", emulator, base_url=base))
    try:
        for _ in range(3):
            server.closed.clear()
            assert (await provider.complete(MESSAGES, CallOptions())).text == "fine"
            await server.closed.wait()  # the idle connection is closed before the next request
    finally:
        await provider.aclose()
        server.server.close()
    assert server.connections == 3
