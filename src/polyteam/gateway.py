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
import collections
import contextlib
import dataclasses
import inspect
import random
import threading
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from polyteam.attempts import AttemptScope, CostFn, log_retry, meter_cost
from polyteam.errors import (
    FallbackExhaustedError,
    MalformedReplyError,
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
from polyteam.usage import clamp_count, json_safe, prompt_token_bound, utf8_len

SleepFn = Callable[[float], Awaitable[Any]]
AttemptObserver = Callable[["AttemptRecord"], None]
DeltaCallback = Callable[[str], Any]
ProviderFactory = Callable[[Endpoint], Provider]
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt at one endpoint; the ledger prices and stores it (DESIGN §4)."""

    ts: float
    role: str
    action: str
    llm: str
    provider: str
    model: str
    base_url: str
    attempt: int  # 1-based, per logical call across retries and fallbacks
    ok: bool
    error: str | None  # the error class's `kind`, None when ok
    input_tokens: int
    output_tokens: int
    latency_s: float
    estimated: bool = False
    call_id: str = ""  # one logical gateway.ask; retries and fallbacks share it
    endpoint: Endpoint | None = None  # for pricing; not written to the ledger
    request_id: str | None = None  # the provider's id of the request (Completion.request_id)
    finish_reason: str | None = None
    attempt_id: str = ""  # this attempt; its ledger `started` line has the same id
    #: the server's own usage report when it was out of range (the counts above are clamped)
    reported_usage: tuple[Any, Any] | None = None
    #: "reported" (the server's counts), "clamped", "estimated" (a stream cut short: its text's
    #: bytes), "reservation" (abandoned in flight: it may be billed in full)
    charged: str = "reported"


@dataclass(frozen=True)
class AttemptStart:
    """What the meter is told before an attempt is sent (the ledger's `started` line)."""

    role: str
    action: str
    call_id: str
    attempt_id: str
    attempt: int
    input_bound: int  # no tokenizer makes more input tokens than this (`prompt_token_bound`)
    max_tokens: int


@dataclass(frozen=True)
class Answer:
    completion: Completion
    llm: str  # the LLM that finally answered (after any fallback)
    endpoint: Endpoint
    attempts: int
    latency_s: float


class Meter(Protocol):
    """Budget and ledger, as the gateway sees them (implemented in `polyteam.cost`)."""

    def reserve(
        self, endpoint: Endpoint, prompt_tokens: int, max_tokens: int, start: AttemptStart | None = None
    ) -> float:
        """Reserve this attempt's worst-case cost (and log `start`); raise BudgetExceededError if it
        could cross the budget."""
        ...

    def record(self, record: AttemptRecord, reserved: float) -> None:
        """Release the reservation, price the attempt and append its ledger line."""
        ...


# -- the logical call an attempt belongs to ---------------------------------------------------


@dataclass
class _Call:
    """What every attempt of one `Gateway.ask` shares (set in a ContextVar for the wrappers)."""

    role: str = ""
    action: str = ""
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    observers: tuple[AttemptObserver, ...] = ()
    attempts: int = 0
    answered_by: Endpoint | None = None
    # the previous attempt, for InstrumentedProvider (retry, re-ask or fallback?)
    last_llm: str = ""
    last_ok: bool = False
    last_error: str | None = None


_CALL: ContextVar[_Call | None] = ContextVar("polyteam_gateway_call", default=None)


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


class MeteredProvider(WrapperProvider):
    """Checks the budget before each attempt and records each attempt after it, ok or not.

    The reservation is the worst case: `prompt_token_bound` input tokens (true for every
    tokenizer) plus `max_tokens`. The usage recorded (and returned) is the server's report clamped
    to those bounds (`polyteam.usage`); an attempt abandoned in flight (cancelled) or ended by an
    error that is not a ProviderError, or a reply the server sent that we could not read
    (`UnreadableReplyError`: bad UTF-8 or usage), is charged at its reservation,
    and a stream cut short at the bytes it delivered, since the provider may bill them.
    """

    def __init__(
        self, inner: Provider, meter: Meter | None = None, on_attempt: AttemptObserver | None = None
    ) -> None:
        super().__init__(inner)
        self._meter = meter
        self._on_attempt = on_attempt
        self._standalone = _Call()

    def _start(self, messages: list[Message], options: CallOptions) -> tuple[_Call, _Attempt]:
        # outside Gateway.ask (a stack used on its own) attempts count over the wrapper's life
        call = _CALL.get() or self._standalone
        attempt = _Attempt(
            AttemptStart(
                role=call.role,
                action=call.action,
                call_id=call.call_id,
                attempt_id=uuid.uuid4().hex[:16],
                attempt=call.attempts + 1,
                input_bound=prompt_token_bound(messages, options, schema_sent=self.endpoint.json_schema),
                max_tokens=max(0, int(options.max_tokens)),
            )
        )
        if self._meter is not None:
            # raises BudgetExceededError: the attempt is not made, nothing else is tried
            attempt.reserved = self._meter.reserve(
                self.endpoint, attempt.start.input_bound, attempt.start.max_tokens, attempt.start
            )
        call.attempts += 1
        return call, attempt

    def _charge(
        self, attempt: _Attempt, completion: Completion | None, error: BaseException | None
    ) -> tuple[int, int, str, tuple[Any, Any] | None]:
        """(input, output, how charged, the out-of-range report) for the ledger."""
        start = attempt.start
        if completion is not None and error is None:
            n_in, bad_in = clamp_count(completion.input_tokens, start.input_bound)
            n_out, bad_out = clamp_count(completion.output_tokens, start.max_tokens)
            if bad_in or bad_out:
                reported = (json_safe(completion.input_tokens), json_safe(completion.output_tokens))
                return n_in, n_out, "clamped", reported
            return n_in, n_out, "reported", None
        if error is not None and (not isinstance(error, ProviderError) or error.billed):
            # cancelled in flight, or a reply the server sent that we could not read (bad UTF-8,
            # a bad usage type): the server may have billed it in full
            return start.input_bound, start.max_tokens, "reservation", None
        if attempt.streamed_bytes:
            return start.input_bound, min(start.max_tokens, attempt.streamed_bytes), "estimated", None
        return 0, 0, "reported", None

    def _finish(
        self,
        call: _Call,
        attempt: _Attempt,
        completion: Completion | None,
        error: BaseException | None = None,
    ) -> Completion | None:
        endpoint = self.endpoint
        if error is None:
            kind = None
        elif isinstance(error, ProviderError):
            kind = error.kind
        elif isinstance(error, asyncio.CancelledError | GeneratorExit):
            kind = "cancelled"
        else:
            kind = type(error).__name__
        n_in, n_out, charged, reported = self._charge(attempt, completion, error)
        record = AttemptRecord(
            ts=attempt.ts,
            role=call.role,
            action=call.action,
            llm=endpoint.llm,
            provider=endpoint.kind,
            model=endpoint.model,
            base_url=endpoint.base_url,
            attempt=attempt.start.attempt,
            ok=completion is not None and error is None,
            error=kind,
            input_tokens=n_in,
            output_tokens=n_out,
            latency_s=time.perf_counter() - attempt.started,
            estimated=(completion.estimated if completion else False) or charged == "estimated",
            call_id=call.call_id,
            endpoint=endpoint,
            request_id=completion.request_id if completion else None,
            finish_reason=completion.finish_reason if completion else None,
            attempt_id=attempt.start.attempt_id,
            reported_usage=reported,
            charged=charged,
        )
        if record.ok:
            call.answered_by = endpoint
        if self._meter is not None:
            self._meter.record(record, attempt.reserved)
        for observer in (*call.observers, *((self._on_attempt,) if self._on_attempt else ())):
            observer(record)
        if completion is not None and charged == "clamped":
            return dataclasses.replace(completion, input_tokens=n_in, output_tokens=n_out)
        return completion

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        call, attempt = self._start(messages, options)
        try:
            completion = await self.inner.complete(messages, options)
        except BaseException as exc:  # recorded (the reservation is released), then re-raised
            self._finish(call, attempt, None, exc)
            raise
        return self._finish(call, attempt, completion) or completion

    async def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        call, attempt = self._start(messages, options)
        completion: Completion | None = None
        try:
            async with contextlib.aclosing(self.inner.stream(messages, options)) as items:
                async for item in items:
                    if isinstance(item, Completion):
                        completion = item
                        continue
                    attempt.streamed_bytes += utf8_len(item.text)
                    yield item
        except BaseException as exc:  # recorded, then re-raised
            self._finish(call, attempt, None, exc)
            raise
        if completion is None:
            self._finish(call, attempt, None, None)
            return
        done = self._finish(call, attempt, completion) or completion
        yield done  # after recording: a consumer that stops at the Completion leaves nothing unrecorded


@dataclass
class _Attempt:
    start: AttemptStart
    reserved: float = 0.0
    ts: float = field(default_factory=time.time)
    started: float = field(default_factory=time.perf_counter)
    streamed_bytes: int = 0


class InstrumentedProvider(WrapperProvider):
    """Observes each attempt: a GenAI `chat` span, a run-log line, the captured call (`polyteam.attempts`).

    Sits between the retry layer and the meter, so it sees every attempt the ledger records, in
    the same order, with the same tokens; with no tracer, no log level and no capture it costs
    one object per attempt.
    """

    def __init__(self, inner: Provider, cost: CostFn | None = None) -> None:
        super().__init__(inner)
        self._cost = cost

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        scope = AttemptScope(self.endpoint, messages, options, _CALL.get(), self._cost)
        scope.begin()
        try:
            if scope.span is None:  # no tracer: no context to switch
                completion = await self.inner.complete(messages, options)
            else:
                with scope.active():
                    completion = await self.inner.complete(messages, options)
        except BaseException as exc:
            scope.end(None, exc)
            raise
        scope.end(completion)
        return completion

    async def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        # the span is never current here: a context attached in a generator may be left in another
        scope = AttemptScope(self.endpoint, messages, options, _CALL.get(), self._cost)
        scope.begin()
        completion: Completion | None = None
        try:
            async with contextlib.aclosing(self.inner.stream(messages, options)) as items:
                async for item in items:
                    if isinstance(item, Completion):
                        completion = item
                    yield item
        except BaseException as exc:
            done = completion is not None and isinstance(exc, GeneratorExit)
            scope.end(completion, None if done else exc)
            raise
        scope.end(completion)


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
