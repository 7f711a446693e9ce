"""OPENAI_PROXY is honoured: requests to the OpenAI-compatible endpoint go through the configured proxy."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from _provider_endpoints import endpoint_for

from polyteam.providers.base import CallOptions, Message
from polyteam.providers.openai import OpenAIProvider


class ForwardProxy:
    """A minimal plain-HTTP forward proxy on 127.0.0.1: absolute-form request in, one response out."""

    def __init__(self) -> None:
        self.seen: list[str] = []  # request lines, e.g. "POST http://127.0.0.1:P/v1/chat/completions"
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *header_lines = head.split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        self.seen.append(f"{method} {target}")
        headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
        length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
        body = await reader.readexactly(length)
        forward = {
            k: v for k, v in headers.items() if k.lower() not in {"host", "content-length", "connection"}
        }
        assert urlsplit(target).scheme == "http", "a forward proxy gets absolute-form targets"
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, target, data=body, headers=forward) as resp,
        ):
            payload = await resp.read()
            status, ctype = resp.status, resp.headers.get("Content-Type", "application/json")
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(payload)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    server = ForwardProxy()
    await server.start()
    yield server
    await server.stop()


async def test_openai_proxy_carries_the_request(emulator: Any, proxy: ForwardProxy) -> None:
    endpoint = dataclasses.replace(endpoint_for("openai", emulator), proxy=proxy.url)
    provider = OpenAIProvider(endpoint)
    try:
        completion = await provider.complete([Message("user", "through the proxy")], CallOptions())
    finally:
        await provider.aclose()
    assert completion.text == "echo: through the proxy"
    assert proxy.seen == [f"POST {emulator.base_url}/v1/chat/completions"]
    assert len(emulator.requests) == 1
