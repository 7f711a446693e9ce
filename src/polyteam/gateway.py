"""What the team calls to "ask the LLM for Role R, Action A": the wrappers around providers.

Contract used by the team, the cost code and the CLI:

    gateway = Gateway(router, meter=meter, sleep=asyncio.sleep, max_attempts=3)
    answer = await gateway.ask(role, action, messages, options, on_delta=None, llm=None)
    output = await gateway.ask_structured(role, action, stage)   # stage.run(stack) per LLM of the
        # chain (ask -> validate -> re-ask, polyteam.actions.structured) until one returns output
        # llm=None: the route's LLM with its fallback chain; llm="X": start the chain at X
        # (the team uses it to move past an LLM whose replies stay malformed)
        # on_delta: a sync or async callback taking each streamed text piece (then stream() is used)
    gateway.chain(role, action) -> list[str]   # the route's LLM then its fallbacks, in order
    gateway.attempts                           # every AttemptRecord so far, in order
    gateway.add_observer(fn)                   # fn(AttemptRecord) after every attempt (ledger, display)
    await gateway.aclose()

Every wrapper but the fallback is a `WrapperProvider` (a pass-through holding `inner`, forwarding
explicitly) that overrides only the calls it changes. Composition (outermost first), built once
per LLM name by `Gateway._stack`:

    FallbackProvider(chain) over, per LLM of the chain:
    RetryingProvider -> InstrumentedProvider -> MeteredProvider -> ConcurrencyLimitedProvider
        -> TimeoutProvider -> provider

so every attempt (first try, retry or fallback) is checked against the budget and gets its own
AttemptRecord; no backoff sleep holds a concurrency slot; the timeout bounds one attempt on the
wire, not the wait for a slot. A provider (one client per endpoint) is shared by every route of
one gateway that uses it. The concurrency limiter of an endpoint (`max_concurrency`, by endpoint
key) is shared by every gateway in the process: `EndpointLimits`, one registry per process by
default (`PROCESS_LIMITS`), one limiter per endpoint key per running event loop, so M team runs in
one process (each with its own Gateway) never have more than the limit in flight together. When
gateways name different limits for one endpoint, the lowest holds.

Decisions follow the error classes (`retryable`), never messages or status codes:
- retry: RateLimitError, ServerError, TransportError, up to `max_attempts`, exponential backoff
  0.5 s * 2**n capped at 8 s with jitter that only shortens it; a `retry_after` <= 60 s is
  waited exactly, one over 120 s ends the retries (wire-protocols.md §2a), one between uses backoff;
- fallback: any ProviderError that the retry layer gave up on moves to the next LLM; when all
  fail, FallbackExhaustedError holds every error (a chain of one LLM re-raises its own error);
- BudgetExceededError (from `Meter.reserve`) stops everything: never retried, never fallen back.
A stream that fails after some deltas is retried (or falls back) like any attempt: `on_delta`
may then see a second start; the final `Answer.completion` holds only the successful text.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from polyteam.attempts import meter_cost
from polyteam.calls import (
    _CALL,
    Answer,
    AttemptObserver,
    AttemptRecord,
    DeltaCallback,
    Meter,
    ProviderFactory,
    SleepFn,
    T,
    _Call,
)

# the records and wrappers live in their own modules; callers keep importing them from here
from polyteam.calls import AttemptStart as AttemptStart
from polyteam.errors import (
    MalformedReplyError,
    PolyteamError,
    ProviderError,
    TransportError,
)
from polyteam.limits import PROCESS_LIMITS, ConcurrencyLimitedProvider, EndpointLimits
from polyteam.limits import EndpointLimiter as EndpointLimiter
from polyteam.metering import InstrumentedProvider, MeteredProvider
from polyteam.metering import _Attempt as _Attempt
from polyteam.providers.base import (
    CallOptions,
    Completion,
    Endpoint,
    Message,
    Provider,
    Stream,
)
from polyteam.wrappers import FallbackProvider as FallbackProvider
from polyteam.wrappers import ReplyStage as ReplyStage
from polyteam.wrappers import RetryingProvider as RetryingProvider
from polyteam.wrappers import RetryPolicy as RetryPolicy
from polyteam.wrappers import TimeoutProvider as TimeoutProvider
from polyteam.wrappers import WrapperProvider as WrapperProvider

# -- the gateway ----------------------------------------------------------------------------------


class RouterLike(Protocol):
    """What the gateway needs of `polyteam.routing.Router`."""

    def route(self, role: str, action: str) -> Any: ...

    def endpoint(self, llm: str) -> Endpoint: ...


def _make_provider(endpoint: Endpoint) -> Provider:
    from polyteam.providers import make_provider

    return make_provider(endpoint)


class Gateway:
    """Routes each ask to its LLM's wrapper stack; owns the providers (one per LLM) and closes them."""

    def __init__(
        self,
        router: RouterLike,
        meter: Meter | None = None,
        sleep: SleepFn = asyncio.sleep,
        max_attempts: int = 3,
        *,
        on_attempt: AttemptObserver | None = None,
        provider_factory: ProviderFactory = _make_provider,
        rand: Callable[[], float] = random.random,
        limits: EndpointLimits | None = None,
    ) -> None:
        """`limits`: the per-endpoint concurrency limiters to share (default `PROCESS_LIMITS`)."""
        self.router = router
        self.meter = meter
        self.policy = RetryPolicy(max_attempts=max_attempts)
        #: every AttemptRecord of this gateway's life, in order
        self.attempts: list[AttemptRecord] = []
        self._observers: list[AttemptObserver] = [self.attempts.append]
        if on_attempt is not None:
            self._observers.append(on_attempt)
        self._sleep = sleep
        self._rand = rand
        self._provider_factory = provider_factory
        self._providers: dict[str, Provider] = {}  # the bare provider per LLM name (one client each)
        self._stacks: dict[str, Provider] = {}  # the retry -> ... -> provider stack per LLM name
        self.limits = limits if limits is not None else PROCESS_LIMITS

    def add_observer(self, observer: AttemptObserver) -> None:
        """Call `observer(record)` after every attempt (the ledger, the live display)."""
        self._observers.append(observer)

    def chain(self, role: str, action: str) -> list[str]:
        """The route's LLM, then its fallbacks, in order (no duplicates)."""
        route = self.router.route(role, action)
        return _dedupe([route.llm, *route.endpoint.fallback])

    def _chain_from(self, role: str, action: str, llm: str | None) -> list[str]:
        chain = self.chain(role, action)
        if llm is None:
            return chain
        if llm in chain:
            return chain[chain.index(llm) :]
        return _dedupe([llm, *self.router.endpoint(llm).fallback])

    def _stack(self, llm: str) -> Provider:
        stack = self._stacks.get(llm)
        if stack is None:
            endpoint = self.router.endpoint(llm)
            provider = self._providers[llm] = self._provider_factory(endpoint)
            inner: Provider = TimeoutProvider(provider)
            if endpoint.max_concurrency:
                inner = ConcurrencyLimitedProvider(inner, self.limits)
            inner = InstrumentedProvider(MeteredProvider(inner, self.meter), meter_cost(self.meter))
            stack = self._stacks[llm] = RetryingProvider(
                inner, self.policy, sleep=self._sleep, rand=self._rand
            )
        return stack

    def _fallback(
        self, role: str, action: str, llm: str | None, fall_on: tuple[type[PolyteamError], ...]
    ) -> FallbackProvider:
        """The one fallback over the chain's stacks (the route resolved once, here)."""
        return FallbackProvider([self._stack(n) for n in self._chain_from(role, action, llm)], fall_on)

    async def ask(
        self,
        role: str,
        action: str,
        messages: list[Message],
        options: CallOptions | None = None,
        on_delta: DeltaCallback | None = None,
        llm: str | None = None,
    ) -> Answer:
        """One logical call for (role, action), with retries and fallback.

        Raises: BudgetExceededError; the ProviderError of a one-LLM chain;
        FallbackExhaustedError when every LLM of a longer chain failed.
        """
        options = options or CallOptions()
        provider = self._fallback(role, action, llm, (ProviderError,))
        call = _Call(role=role, action=action, observers=tuple(self._observers))
        token = _CALL.set(call)
        started = time.perf_counter()
        try:
            if on_delta is None:
                completion = await provider.complete(messages, options)
            else:
                completion = await _consume(provider.stream(messages, options), on_delta, provider.endpoint)
        finally:
            _CALL.reset(token)
        endpoint = call.answered_by or provider.endpoint
        return Answer(
            completion=completion,
            llm=endpoint.llm,
            endpoint=endpoint,
            attempts=call.attempts,
            latency_s=time.perf_counter() - started,
        )

    async def ask_structured(self, role: str, action: str, stage: ReplyStage[T], llm: str | None = None) -> T:
        """`stage.run` on each LLM of the route's chain until one returns valid output.

        The same fallback as `ask`, falling on provider errors and on replies that stayed invalid
        after the stage's own re-ask (MalformedReplyError); every attempt shares one call id.

        Raises: BudgetExceededError; the one error of a one-LLM chain (ProviderError or
        MalformedReplyError); FallbackExhaustedError holding each LLM's error.
        """
        provider = self._fallback(role, action, llm, (ProviderError, MalformedReplyError))
        call = _Call(role=role, action=action, observers=tuple(self._observers))
        token = _CALL.set(call)
        try:
            return await provider.first(stage.run)
        finally:
            _CALL.reset(token)

    async def aclose(self) -> None:
        """Close every provider this gateway opened."""
        providers, self._providers, self._stacks = list(self._providers.values()), {}, {}
        for provider in providers:
            await provider.aclose()


async def _consume(items: Stream, on_delta: DeltaCallback, endpoint: Endpoint) -> Completion:
    completion: Completion | None = None
    async with contextlib.aclosing(items):
        async for item in items:
            if isinstance(item, Completion):
                completion = item
                continue
            result = on_delta(item.text)
            if inspect.isawaitable(result):
                await result
    if completion is None:
        raise TransportError(
            "the stream ended without a completion",
            llm=endpoint.llm,
            provider=endpoint.kind,
            base_url=endpoint.base_url,
        )
    return completion


def _dedupe(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))
