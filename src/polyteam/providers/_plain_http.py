"""HTTP clients for plain `http://` bases that build no TLS context up front (issues 7, 15).

httpx builds a verifying TLS context for every transport it makes, and that loads the system CA
store: ~30 ms of CPU, on the path to a run's first request, for a wire with no TLS on it (a local
or LAN server, the emulator). Here the connection pool gets no context at all. httpcore2 then
builds its default one, the same verifying context httpx would have built, only if an `https://`
connection is ever made (a redirect), so nothing is verified less.

When the environment names a proxy (`HTTP_PROXY`, `ALL_PROXY`, ...), httpx applies it only to
clients whose transport it builds itself; those keep the process's one shared context instead.
The providers pass `plain_http_client_kwargs()` to their SDK's `DefaultAsyncHttpxClient`.
"""

from __future__ import annotations

import functools
import select
import socket
import ssl
from typing import Any
from urllib.request import getproxies

import httpcore2
import httpx2

from polyteam.providers.base import Endpoint

#: the official SDKs' own pool limits (openai/anthropic `DEFAULT_CONNECTION_LIMITS`)
SDK_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100, keepalive_expiry=5.0)


def is_plain_http(endpoint: Endpoint) -> bool:
    """True when every base of `endpoint` is `http://` (no TLS on its wire)."""
    return all(base.lower().startswith("http://") for base in [endpoint.base_url, *endpoint.bases])


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """The verifying TLS context httpx builds by default, built at most once per process."""
    return httpx2.create_ssl_context()


def _readable(sock: socket.socket | None) -> bool:
    """Whether a read would not block: data, or the peer's close (a socket gone counts as closed)."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


class _SocketOnceStream(httpcore2.AsyncNetworkStream):
    """A pooled connection's stream that looks its socket up once. httpcore2 asks every idle
    connection `is_readable` each time it assigns a request, and anyio answers by building all of
    the socket's attributes (a `getpeername` system call among them) every time (issue 15)."""

    def __init__(self, inner: httpcore2.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore2.AsyncNetworkStream:
        return _SocketOnceStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self._socket
        if info == "is_readable":
            return _readable(self._socket)
        return self._inner.get_extra_info(info)


class _SocketOnceBackend(httpcore2.AnyIOBackend):
    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore2.AsyncNetworkStream:
        return _SocketOnceStream(await super().connect_tcp(*args, **kwargs))


class LazyTLSTransport(httpx2.AsyncHTTPTransport):
    """httpx's transport with a connection pool that holds no TLS context (httpcore2 builds its
    default, verifying one per `https://` connection, should one ever be made)."""

    def __init__(
        self, limits: httpx2.Limits = SDK_LIMITS, socket_options: list[tuple[int, int, int]] | None = None
    ) -> None:
        super().__init__(verify=False, limits=limits)  # that context is dropped with this pool at once
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=None,  # httpcore2.default_ssl_context() on an https connect
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            socket_options=socket_options,
            network_backend=_SocketOnceBackend(),
        )


def keepalive_socket_options() -> list[tuple[int, int, int]]:
    """The TCP keep-alive options the anthropic SDK sets on the transports it builds itself."""
    options = [(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    for name, value in (("TCP_KEEPINTVL", 60), ("TCP_KEEPCNT", 5), ("TCP_KEEPIDLE", 60)):
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return options


def plain_http_client_kwargs(socket_options: list[tuple[int, int, int]] | None = None) -> dict[str, Any]:
    """Keyword arguments for an SDK's `DefaultAsyncHttpxClient` at a plain-http base."""
    proxies = getproxies()
    if any(proxies.get(scheme) for scheme in ("http", "https", "all")):  # as httpx reads them
        # an environment proxy: httpx builds (and proxies) the transport itself
        return {"verify": shared_tls_context()}
    return {"transport": LazyTLSTransport(socket_options=socket_options)}
