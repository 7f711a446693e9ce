"""Per-endpoint concurrency limits shared by every gateway of a process (`max_concurrency`)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import weakref

from polyteam.providers.base import (
    CallOptions,
    Completion,
    Endpoint,
    Message,
    Provider,
    Stream,
)
from polyteam.wrappers import WrapperProvider


class EndpointLimiter:
    """At most `limit` holders at once on one event loop, granted in arrival order (FIFO)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, int(limit))
        self.in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def lower(self, limit: int) -> None:
        """Apply a stricter limit (never a looser one): the lowest limit asked for holds."""
        self.limit = min(self.limit, max(1, int(limit)))

    async def __aenter__(self) -> None:
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # the releaser counts us in before waking us
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # granted, then cancelled before we could run: hand it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        self.in_flight -= 1
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)


class EndpointLimits:
    """The per-endpoint concurrency limiters of every Gateway that shares this registry.

    One limiter per endpoint key per running event loop (asyncio primitives are loop-bound; a
    loop that is gone takes its limiters with it). Thread-safe; holds no client or connection.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[str, str, str], EndpointLimiter]
        ] = weakref.WeakKeyDictionary()

    def limiter(self, endpoint: Endpoint) -> EndpointLimiter | None:
        """The running loop's limiter for `endpoint` (None when it sets no `max_concurrency`)."""
        limit = endpoint.max_concurrency
        if not limit:
            return None
        loop = asyncio.get_running_loop()
        with self._lock:
            limiters = self._by_loop.get(loop)
            if limiters is None:
                limiters = self._by_loop[loop] = {}
            found = limiters.get(endpoint.key)
            if found is None:
                found = limiters[endpoint.key] = EndpointLimiter(limit)
            elif limit < found.limit:
                found.lower(limit)
            return found


#: the default registry: every Gateway of the process shares its endpoints' limits
PROCESS_LIMITS = EndpointLimits()


class ConcurrencyLimitedProvider(WrapperProvider):
    """At most `max_concurrency` attempts in flight at one endpoint, across every gateway sharing `limits`."""

    def __init__(self, inner: Provider, limits: EndpointLimits | None = None) -> None:
        super().__init__(inner)
        self._limits = limits if limits is not None else PROCESS_LIMITS

    def _limiter(self) -> EndpointLimiter | contextlib.nullcontext[None]:
        return self._limits.limiter(self.endpoint) or contextlib.nullcontext()

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        async with self._limiter():
            return await self.inner.complete(messages, options)

    async def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        async with self._limiter(), contextlib.aclosing(self.inner.stream(messages, options)) as items:
            async for item in items:
                yield item
