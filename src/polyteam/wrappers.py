"""The pass-through wrapper base and the wrappers that decide whether to try again: retry, timeout, fallback.

Composed by `polyteam.gateway.Gateway._stack` (its docstring gives the order and the rules).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from polyteam.attempts import log_retry
from polyteam.calls import SleepFn, T, T_co
from polyteam.errors import (
    FallbackExhaustedError,
    PolyteamError,
    ProviderError,
    TransportError,
)
from polyteam.providers.base import (
    CallOptions,
    Completion,
    Endpoint,
    Message,
    Provider,
    Stream,
)
from polyteam.providers.kinds import STREAM_IDLE_S, default_deadline

# -- wrappers: each is a Provider holding a Provider --------------------------------------------


class WrapperProvider:
    """A pass-through Provider holding `inner`: the base of every gateway wrapper.

    Each method forwards explicitly (never `__getattr__`, which would not forward what a base
    already defines); a wrapper overrides only the calls it changes. `endpoint` is the inner
    provider's, taken once at construction.
    """

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.endpoint: Endpoint = inner.endpoint

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        return await self.inner.complete(messages, options)

    def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        return self.inner.stream(messages, options)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying the same LLM again (module docstring)."""

    max_attempts: int = 3
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_retry_after_s: float = 60.0  # a Retry-After up to this is waited exactly
    give_up_retry_after_s: float = 120.0  # a Retry-After over this is not worth waiting for

    def delay(self, error: ProviderError, retries_taken: int, rand: float) -> float | None:
        """Seconds to wait before the next attempt, or None to stop retrying."""
        if not error.retryable or retries_taken + 1 >= self.max_attempts:
            return None
        wait = error.retry_after
        if wait is not None:
            if wait > self.give_up_retry_after_s:
                return None
            if 0 < wait <= self.max_retry_after_s:
                return wait
        backoff = min(self.base_delay_s * 2.0**retries_taken, self.max_delay_s)
        return backoff * (1 - 0.25 * rand)  # jitter only shortens


class RetryingProvider(WrapperProvider):
    """Retries retryable errors of its inner provider with backoff; the sleep is injected."""

    def __init__(
        self,
        inner: Provider,
        policy: RetryPolicy | None = None,
        sleep: SleepFn = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(inner)
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        retries = 0
        while True:
            try:
                return await self.inner.complete(messages, options)
            except ProviderError as exc:
                await self._back_off(exc, retries)
            retries += 1

    async def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        retries = 0
        while True:
            try:
                async with contextlib.aclosing(self.inner.stream(messages, options)) as items:
                    async for item in items:
                        yield item
                return
            except ProviderError as exc:
                await self._back_off(exc, retries)
            retries += 1

    async def _back_off(self, error: ProviderError, retries: int) -> None:
        """Wait before the next attempt, or re-raise `error` when the policy says stop."""
        wait = self.policy.delay(error, retries, self._rand())
        if wait is None:
            raise error
        log_retry(self.endpoint, error, wait)
        await self._sleep(wait)


class TimeoutProvider(WrapperProvider):
    """Bounds one attempt: a total deadline (`endpoint.timeout`, else `options.timeout`, else the kind's
    default) and, for streams, an idle one once the reply has started (no item for min(total / 2, 60) s);
    expiry is a retryable TransportError."""

    def _limits(self, options: CallOptions) -> tuple[float, float]:
        total = self.endpoint.timeout or options.timeout or default_deadline(self.endpoint.kind)
        return total, min(total / 2, STREAM_IDLE_S)

    def _timed_out(self, what: str) -> TransportError:
        endpoint = self.endpoint
        return TransportError(what, llm=endpoint.llm, provider=endpoint.kind, base_url=endpoint.base_url)

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        total, _idle = self._limits(options)
        try:
            async with asyncio.timeout(total) as scope:
                return await self.inner.complete(messages, options)
        except TimeoutError as exc:
            if scope.expired():
                raise self._timed_out(f"no reply within {total:g} s") from exc
            raise

    async def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        total, idle = self._limits(options)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + total
        started = False
        async with contextlib.aclosing(self.inner.stream(messages, options)) as items:
            while True:
                # the deadlines cover time inside the provider, not the consumer's handling of deltas;
                # before the first item only the total one (a reasoning model may think a long while)
                wait_until = min(deadline, loop.time() + idle) if started else deadline
                try:
                    async with asyncio.timeout_at(wait_until) as scope:
                        item = await anext(items)
                except StopAsyncIteration:
                    return
                except TimeoutError as exc:
                    if not scope.expired():
                        raise
                    if wait_until >= deadline:
                        raise self._timed_out(f"reply not finished within {total:g} s") from exc
                    raise self._timed_out(f"stream idle for {idle:g} s") from exc
                started = True
                yield item


class FallbackProvider:
    """Tries each provider of the chain in order until one answers.

    `first(attempt)` is the one walk: `complete` is `first(p.complete)`, and a per-LLM stage
    (`Gateway.ask_structured`: ask, validate, re-ask) is `first(stage.run)`, so provider errors and
    replies that stay invalid move down the same chain. What falls through is `fall_on`.
    """

    def __init__(
        self, chain: Sequence[Provider], fall_on: tuple[type[PolyteamError], ...] = (ProviderError,)
    ) -> None:
        if not chain:
            raise ValueError("a fallback chain needs at least one provider")
        self.chain = list(chain)
        self.endpoint = self.chain[0].endpoint
        self._fall_on = fall_on

    @staticmethod
    def _exhausted(errors: list[PolyteamError]) -> PolyteamError:
        return errors[0] if len(errors) == 1 else FallbackExhaustedError(errors)

    async def first(self, attempt: Callable[[Provider], Awaitable[T]]) -> T:
        """`attempt(provider)` for each provider in order; the first result that is not an error.

        Raises: the one error of a one-provider chain, else FallbackExhaustedError (each error).
        """
        errors: list[PolyteamError] = []
        for provider in self.chain:
            try:
                return await attempt(provider)
            except self._fall_on as exc:
                errors.append(exc)
        raise self._exhausted(errors)

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        return await self.first(lambda provider: provider.complete(messages, options))

    async def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        errors: list[PolyteamError] = []
        for provider in self.chain:
            try:
                async with contextlib.aclosing(provider.stream(messages, options)) as items:
                    async for item in items:
                        yield item
                return
            except self._fall_on as exc:
                errors.append(exc)
        raise self._exhausted(errors)

    async def aclose(self) -> None:
        for provider in self.chain:
            await provider.aclose()


class ReplyStage(Protocol[T_co]):
    """One LLM's whole turn at a structured answer (`polyteam.actions.structured.StructuredStage`).

    `run(provider)` asks `provider` (one LLM's retry -> ... -> provider stack; `provider.endpoint`
    says which), validates, may re-ask; it returns the output or raises MalformedReplyError (the
    reply stayed invalid: the fallback moves on) or a ProviderError (likewise).
    """

    async def run(self, provider: Provider) -> T_co: ...
