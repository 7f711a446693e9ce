"""The gateway's wrappers and Gateway itself, with scripted providers: no sockets, injected sleep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from polyteam.errors import (
    AuthError,
    BadRequestError,
    BudgetExceededError,
    ContentFilteredError,
    ContextTooLongError,
    FallbackExhaustedError,
    ProviderError,
    QuotaExhaustedError,
    RateLimitError,
    ServerError,
    TransportError,
)
from polyteam.gateway import (
    PROCESS_LIMITS,
    AttemptRecord,
    EndpointLimits,
    Gateway,
    MeteredProvider,
    RetryingProvider,
    RetryPolicy,
    TimeoutProvider,
)
from polyteam.providers.base import CallOptions, Completion, Delta, Endpoint, Message
from polyteam.routing import Route

MESSAGES = [Message("system", "be brief"), Message("user", "hello")]


def endpoint(llm: str, **kw: object) -> Endpoint:
    fields: dict[str, object] = {"kind": "open_llm", "base_url": f"http://127.0.0.1:9/{llm}/v1", "model": llm}
    fields.update(kw)
    return Endpoint(llm=llm, **fields)  # type: ignore[arg-type]


def done(text: str = "ok", model: str = "m") -> Completion:
    return Completion(text=text, input_tokens=3, output_tokens=2, model=model, finish_reason="stop")


@dataclass
class Gauge:
    """In-flight attempts across providers (a shared endpoint has several LLM names)."""

    now: int = 0
    peak: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)
        self.changed.set()

    def leave(self) -> None:
        self.now -= 1
        self.changed.set()


class ScriptedProvider:
    """Replies from a queue of Completions and exceptions, logging every call.

    An item may also be a tuple (delta texts, exception) for a stream that breaks midway.
    """

    def __init__(
        self,
        ep: Endpoint,
        script: list[object] | None = None,
        *,
        gate: asyncio.Event | None = None,
        gauge: Gauge | None = None,
    ) -> None:
        self.endpoint = ep
        self.script = list(script or [])
        self.calls: list[str] = []
        self.closed = 0
        self.gate = gate
        self.gauge = gauge or Gauge()

    def _next(self) -> object:
        return self.script.pop(0) if self.script else done(f"from {self.endpoint.llm}")

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        self.calls.append("complete")
        self.gauge.enter()
        try:
            if self.gate is not None:
                await self.gate.wait()
            item = self._next()
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, Completion)
            return item
        finally:
            self.gauge.leave()

    async def stream(
        self, messages: list[Message], options: CallOptions
    ) -> AsyncIterator[Delta | Completion]:
        self.calls.append("stream")
        item = self._next()
        if isinstance(item, tuple):
            pieces, error = item
            for piece in pieces:
                yield Delta(piece)
            raise error
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, Completion)
        for word in item.text.split(" "):
            yield Delta(word + " ")
        yield item

    async def aclose(self) -> None:
        self.closed += 1


class FakeRouter:
    """The Router contract (route, endpoint) over a dict of endpoints and a dict of entries."""

    def __init__(self, endpoints: list[Endpoint], entries: dict[str, str], default: str) -> None:
        self.endpoints = {ep.llm: ep for ep in endpoints}
        self.entries = entries
        self.default = default

    def route(self, role: str, action: str) -> Route:
        llm = self.entries.get(action) or self.entries.get(role) or self.default
        return Route(role=role, action=action, llm=llm, source="action", endpoint=self.endpoints[llm])

    def endpoint(self, llm: str) -> Endpoint:
        return self.endpoints[llm]


class Sleeps:
    """An injected sleep that only records what it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class BudgetMeter:
    """Allows `allowed` attempts, then refuses; records every reserve and record."""

    def __init__(self, allowed: int = 100) -> None:
        self.allowed = allowed
        self.reserved: list[str] = []
        self.recorded: list[tuple[AttemptRecord, float]] = []

    def reserve(self, ep: Endpoint, prompt_tokens: int, max_tokens: int, start: object = None) -> float:
        if len(self.reserved) >= self.allowed:
            raise BudgetExceededError(spent_usd=1.0, budget_usd=1.0, next_call_usd=0.1)
        self.reserved.append(ep.llm)
        assert prompt_tokens > 0 and max_tokens == CallOptions().max_tokens
        return 0.25

    def record(self, record: AttemptRecord, reserved: float) -> None:
        assert reserved == 0.25
        self.recorded.append((record, reserved))


def err(cls: type[ProviderError], **kw: object) -> ProviderError:
    return cls("scripted failure", llm="x", provider="open_llm", base_url="http://127.0.0.1:9", **kw)  # type: ignore[arg-type]


def gateway_for(
    providers: dict[str, ScriptedProvider], entries: dict[str, str], default: str, **kw: object
) -> tuple[Gateway, Sleeps]:
    sleeps = Sleeps()
    router = FakeRouter([p.endpoint for p in providers.values()], entries, default)
    gw = Gateway(router, sleep=sleeps, provider_factory=lambda ep: providers[ep.llm], rand=lambda: 0.0, **kw)  # type: ignore[arg-type]
    return gw, sleeps


# -- RetryingProvider ------------------------------------------------------------------------------


async def test_retry_retries_retryable_errors_until_success() -> None:
    inner = ScriptedProvider(endpoint("a"), [err(RateLimitError), err(ServerError), done("third")])
    sleeps = Sleeps()
    result = await RetryingProvider(
        inner, RetryPolicy(max_attempts=3), sleep=sleeps, rand=lambda: 0.0
    ).complete(MESSAGES, CallOptions())
    assert result.text == "third"
    assert inner.calls == ["complete"] * 3
    assert sleeps.waits == [0.5, 1.0]


async def test_retry_gives_up_after_max_attempts() -> None:
    inner = ScriptedProvider(endpoint("a"), [err(TransportError)] * 10)
    sleeps = Sleeps()
    retrying = RetryingProvider(inner, RetryPolicy(max_attempts=4), sleep=sleeps, rand=lambda: 0.0)
    with pytest.raises(TransportError):
        await retrying.complete(MESSAGES, CallOptions())
    assert len(inner.calls) == 4
    assert sleeps.waits == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    "cls", [AuthError, QuotaExhaustedError, BadRequestError, ContextTooLongError, ContentFilteredError]
)
async def test_retry_never_retries_non_retryable_errors(cls: type[ProviderError]) -> None:
    inner = ScriptedProvider(endpoint("a"), [err(cls), done()])
    sleeps = Sleeps()
    with pytest.raises(cls):
        await RetryingProvider(inner, sleep=sleeps).complete(MESSAGES, CallOptions())
    assert inner.calls == ["complete"]
    assert sleeps.waits == []


async def test_retry_after_is_waited_exactly() -> None:
    inner = ScriptedProvider(
        endpoint("a"), [err(RateLimitError, retry_after=7.5), err(ServerError, retry_after=0.25)]
    )
    sleeps = Sleeps()
    await RetryingProvider(inner, sleep=sleeps, rand=lambda: 0.9).complete(MESSAGES, CallOptions())
    assert sleeps.waits == [7.5, 0.25]
    assert len(inner.calls) == 3


async def test_retry_after_over_two_minutes_is_not_retried() -> None:
    inner = ScriptedProvider(endpoint("a"), [err(RateLimitError, retry_after=300.0), done()])
    sleeps = Sleeps()
    with pytest.raises(RateLimitError):
        await RetryingProvider(inner, sleep=sleeps).complete(MESSAGES, CallOptions())
    assert inner.calls == ["complete"] and sleeps.waits == []


def test_backoff_doubles_caps_at_eight_seconds_and_jitter_only_shortens() -> None:
    policy = RetryPolicy(max_attempts=20)
    error = err(ServerError)
    assert [policy.delay(error, n, 0.0) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert [policy.delay(error, n, 1.0) for n in range(3)] == [0.375, 0.75, 1.5]
    # a Retry-After between 60 and 120 s is not waited verbatim: backoff instead
    assert policy.delay(err(RateLimitError, retry_after=90.0), 0, 0.0) == 0.5
    assert policy.delay(err(AuthError), 0, 0.0) is None


async def test_stream_broken_midway_is_retried_and_the_answer_holds_only_the_good_text() -> None:
    inner = ScriptedProvider(endpoint("a"), [(["par", "tial"], err(TransportError)), done("whole reply")])
    sleeps = Sleeps()
    items = [
        i
        async for i in RetryingProvider(inner, sleep=sleeps, rand=lambda: 0.0).stream(MESSAGES, CallOptions())
    ]
    assert inner.calls == ["stream", "stream"]
    assert [i.text for i in items if isinstance(i, Delta)] == ["par", "tial", "whole ", "reply "]
    assert isinstance(items[-1], Completion) and items[-1].text == "whole reply"
    assert sleeps.waits == [0.5]


# -- TimeoutProvider ---------------------------------------------------------------------------------


async def test_timeout_becomes_a_retryable_transport_error() -> None:
    never = asyncio.Event()
    inner = ScriptedProvider(endpoint("a", timeout=0.01), gate=never)
    with pytest.raises(TransportError) as info:
        await TimeoutProvider(inner).complete(MESSAGES, CallOptions())
    assert info.value.retryable and info.value.llm == "a"
    assert "0.01 s" in str(info.value)


async def test_options_timeout_applies_when_the_endpoint_sets_none() -> None:
    inner = ScriptedProvider(endpoint("a"), gate=asyncio.Event())
    with pytest.raises(TransportError):
        await TimeoutProvider(inner).complete(MESSAGES, CallOptions(timeout=0.01))


# -- MeteredProvider ---------------------------------------------------------------------------------


async def test_meter_reserves_before_and_records_after_each_attempt_ok_or_not() -> None:
    inner = ScriptedProvider(endpoint("a"), [err(ServerError), done("fine")])
    meter = BudgetMeter()
    seen: list[AttemptRecord] = []
    stack = RetryingProvider(MeteredProvider(inner, meter, on_attempt=seen.append), sleep=Sleeps())
    await stack.complete(MESSAGES, CallOptions())
    assert meter.reserved == ["a", "a"]
    assert [(r.ok, r.error) for r, _ in meter.recorded] == [(False, "server_error"), (True, None)]
    assert [r.attempt for r in seen] == [1, 2]
    assert seen[1].input_tokens == 3 and seen[1].output_tokens == 2 and seen[1].latency_s >= 0


async def test_budget_error_stops_the_whole_chain_without_retry_or_fallback() -> None:
    a = ScriptedProvider(endpoint("a", fallback=("b",)), [err(ServerError)] * 5)
    b = ScriptedProvider(endpoint("b"))
    meter = BudgetMeter(allowed=1)
    gw, sleeps = gateway_for({"a": a, "b": b}, {}, "a", meter=meter)
    with pytest.raises(BudgetExceededError):
        await gw.ask("Engineer", "WriteCode", MESSAGES)
    assert a.calls == ["complete"] and b.calls == []
    assert len(meter.recorded) == 1 and len(gw.attempts) == 1


# -- FallbackProvider through the Gateway --------------------------------------------------------------


async def test_fallback_follows_the_chain_in_order_and_names_the_llm_that_answered() -> None:
    a = ScriptedProvider(endpoint("a", fallback=("b", "c")), [err(AuthError)])
    b = ScriptedProvider(endpoint("b"), [err(ServerError)] * 3)
    c = ScriptedProvider(endpoint("c"), [done("from c")])
    gw, sleeps = gateway_for({"a": a, "b": b, "c": c}, {"WritePRD": "a"}, "c")
    answer = await gw.ask("ProductManager", "WritePRD", MESSAGES)
    assert (len(a.calls), len(b.calls), len(c.calls)) == (1, 3, 1)
    assert answer.llm == "c" and answer.completion.text == "from c" and answer.attempts == 5
    assert [(r.llm, r.attempt, r.ok, r.error) for r in gw.attempts] == [
        ("a", 1, False, "auth"),
        ("b", 2, False, "server_error"),
        ("b", 3, False, "server_error"),
        ("b", 4, False, "server_error"),
        ("c", 5, True, None),
    ]
    assert {r.call_id for r in gw.attempts} == {gw.attempts[0].call_id}
    assert {(r.role, r.action) for r in gw.attempts} == {("ProductManager", "WritePRD")}
    assert sleeps.waits == [0.5, 1.0]


async def test_every_llm_failing_raises_fallback_exhausted_with_each_error() -> None:
    a = ScriptedProvider(endpoint("a", fallback=("b",)), [err(QuotaExhaustedError)])
    b = ScriptedProvider(endpoint("b"), [err(ContentFilteredError)])
    gw, _ = gateway_for({"a": a, "b": b}, {}, "a")
    with pytest.raises(FallbackExhaustedError) as info:
        await gw.ask("Architect", "WriteDesign", MESSAGES)
    assert [type(e) for e in info.value.errors] == [QuotaExhaustedError, ContentFilteredError]


async def test_a_chain_of_one_raises_its_own_error() -> None:
    a = ScriptedProvider(endpoint("a"), [err(AuthError)])
    gw, _ = gateway_for({"a": a}, {}, "a")
    with pytest.raises(AuthError):
        await gw.ask("Architect", "WriteDesign", MESSAGES)


async def test_llm_argument_starts_the_chain_there() -> None:
    a = ScriptedProvider(endpoint("a", fallback=("b", "c")))
    b = ScriptedProvider(endpoint("b"), [done("b answers")])
    c = ScriptedProvider(endpoint("c"))
    gw, _ = gateway_for({"a": a, "b": b, "c": c}, {}, "a")
    assert gw.chain("Engineer", "WriteCode") == ["a", "b", "c"]
    answer = await gw.ask("Engineer", "WriteCode", MESSAGES, llm="b")
    assert answer.llm == "b" and a.calls == [] and b.calls == ["complete"]


# -- concurrency limit ----------------------------------------------------------------------------------


async def wait_for(condition: object, deadline_s: float = 5.0) -> None:
    async with asyncio.timeout(deadline_s):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0)


async def test_concurrency_limit_is_shared_by_every_llm_name_on_the_endpoint() -> None:
    gate, gauge = asyncio.Event(), Gauge()
    shared = {"base_url": "http://127.0.0.1:9/shared/v1", "model": "m", "max_concurrency": 2}
    a = ScriptedProvider(endpoint("a", **shared), gate=gate, gauge=gauge)
    b = ScriptedProvider(endpoint("b", **shared), gate=gate, gauge=gauge)
    gw, _ = gateway_for({"a": a, "b": b}, {"Architect": "b"}, "a")
    calls = [gw.ask("Architect" if i % 2 else "Engineer", "WriteCode", MESSAGES) for i in range(8)]
    tasks = [asyncio.ensure_future(c) for c in calls]
    await wait_for(lambda: gauge.now == 2)
    for _ in range(20):  # give the other six every chance to slip past the limit
        await asyncio.sleep(0)
    assert gauge.now == 2
    gate.set()
    answers = await asyncio.gather(*tasks)
    assert len(answers) == 8 and gauge.peak == 2
    assert len(a.calls) + len(b.calls) == 8 and a.calls and b.calls


async def test_a_backoff_sleep_holds_no_concurrency_slot() -> None:
    a = ScriptedProvider(
        endpoint("a", max_concurrency=1),
        [err(RateLimitError, retry_after=5.0), done("first"), done("second")],
    )
    sleeping, wake = asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:
        sleeping.set()
        await wake.wait()

    gw = Gateway(FakeRouter([a.endpoint], {}, "a"), sleep=sleep, provider_factory=lambda ep: a)
    first = asyncio.ensure_future(gw.ask("Engineer", "WriteCode", MESSAGES))
    await asyncio.wait_for(sleeping.wait(), 5)
    # while the first call waits out its Retry-After, another call gets the only slot
    second = await asyncio.wait_for(gw.ask("Engineer", "WriteCode", MESSAGES), 5)
    assert second.completion.text == "first"
    wake.set()
    assert (await first).completion.text == "second"


def shared_endpoint_providers(
    count: int, limit: int, gate: asyncio.Event, gauge: Gauge
) -> list[ScriptedProvider]:
    """`count` providers for one endpoint (same key), as `count` separate team runs would make."""
    ep = endpoint("a", base_url="http://127.0.0.1:9/across/v1", max_concurrency=limit)
    return [ScriptedProvider(ep, gate=gate, gauge=gauge) for _ in range(count)]


async def test_the_limit_holds_across_gateways_in_one_process() -> None:
    # issue 7 item 5: each team run builds its own Gateway; together they must respect the limit
    gate, gauge = asyncio.Event(), Gauge()
    providers = shared_endpoint_providers(5, 3, gate, gauge)
    gateways = [
        Gateway(FakeRouter([p.endpoint], {}, "a"), sleep=Sleeps(), provider_factory=lambda ep, p=p: p)
        for p in providers
    ]
    assert all(gw.limits is PROCESS_LIMITS for gw in gateways)  # the default is one registry per process
    tasks = [
        asyncio.ensure_future(gw.ask("Engineer", "WriteCode", MESSAGES)) for gw in gateways for _ in range(4)
    ]
    await wait_for(lambda: gauge.now == 3)
    for _ in range(50):  # give the other seventeen every chance to slip past the limit
        await asyncio.sleep(0)
    assert gauge.now == 3
    gate.set()
    answers = await asyncio.gather(*tasks)
    assert len(answers) == 20 and gauge.peak == 3
    assert all(len(p.calls) == 4 for p in providers)


async def test_gateways_with_their_own_registries_do_not_share_limits() -> None:
    gate, gauge = asyncio.Event(), Gauge()
    providers = shared_endpoint_providers(2, 1, gate, gauge)
    gateways = [
        Gateway(
            FakeRouter([p.endpoint], {}, "a"),
            sleep=Sleeps(),
            provider_factory=lambda ep, p=p: p,
            limits=EndpointLimits(),
        )
        for p in providers
    ]
    tasks = [
        asyncio.ensure_future(gw.ask("Engineer", "WriteCode", MESSAGES)) for gw in gateways for _ in range(2)
    ]
    await wait_for(lambda: gauge.now == 2)
    for _ in range(20):
        await asyncio.sleep(0)
    assert gauge.now == 2  # one each: the limit is per registry
    gate.set()
    await asyncio.gather(*tasks)


async def test_the_lowest_limit_named_for_an_endpoint_holds() -> None:
    # the strict run asks first; a later run naming a looser limit for the same endpoint does not widen it
    gate, gauge = asyncio.Event(), Gauge()
    limits = EndpointLimits()
    loose = ScriptedProvider(
        endpoint("a", base_url="http://127.0.0.1:9/low/v1", max_concurrency=4), gate=gate, gauge=gauge
    )
    strict = ScriptedProvider(
        endpoint("a", base_url="http://127.0.0.1:9/low/v1", max_concurrency=1), gate=gate, gauge=gauge
    )
    gateways = [
        Gateway(
            FakeRouter([p.endpoint], {}, "a"),
            sleep=Sleeps(),
            provider_factory=lambda ep, p=p: p,
            limits=limits,
        )
        for p in (strict, loose)
    ]
    tasks = [
        asyncio.ensure_future(gw.ask("Engineer", "WriteCode", MESSAGES)) for gw in gateways for _ in range(3)
    ]
    await wait_for(lambda: gauge.now >= 1)
    for _ in range(20):
        await asyncio.sleep(0)
    assert gauge.now == 1
    gate.set()
    await asyncio.gather(*tasks)
    assert gauge.peak == 1


async def test_a_cancelled_waiter_never_leaks_a_slot() -> None:
    gate, gauge = asyncio.Event(), Gauge()
    (a,) = shared_endpoint_providers(1, 1, gate, gauge)
    gw = Gateway(
        FakeRouter([a.endpoint], {}, "a"),
        sleep=Sleeps(),
        provider_factory=lambda ep: a,
        limits=EndpointLimits(),
    )
    holder = asyncio.ensure_future(gw.ask("Engineer", "WriteCode", MESSAGES))
    await wait_for(lambda: gauge.now == 1)
    waiters = [asyncio.ensure_future(gw.ask("Engineer", "WriteCode", MESSAGES)) for _ in range(3)]
    for _ in range(10):
        await asyncio.sleep(0)
    waiters[0].cancel()
    gate.set()
    await holder
    # the cancelled waiter's turn passes on: the others finish one at a time
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert all(r.completion.text == "from a" for r in results[1:])  # type: ignore[union-attr]
    assert gauge.peak == 1 and len(a.calls) == 3
    limiter = gw.limits.limiter(a.endpoint)
    assert limiter is not None and limiter.in_flight == 0


# -- Gateway ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_async", [False, True])
async def test_on_delta_streams_the_text_to_a_sync_or_async_callback(use_async: bool) -> None:
    a = ScriptedProvider(endpoint("a"), [done("one two three")])
    gw, _ = gateway_for({"a": a}, {}, "a")
    pieces: list[str] = []

    async def async_cb(text: str) -> None:
        pieces.append(text)

    answer = await gw.ask(
        "Engineer", "WriteCode", MESSAGES, on_delta=async_cb if use_async else pieces.append
    )
    assert a.calls == ["stream"]
    assert "".join(pieces) == "one two three " and answer.completion.text == "one two three"
    assert len(gw.attempts) == 1 and gw.attempts[0].ok


async def test_stacks_are_cached_observers_see_every_attempt_and_aclose_closes_each_provider_once() -> None:
    made: list[str] = []
    a = ScriptedProvider(endpoint("a"), [err(ServerError), done(), done()])

    def factory(ep: Endpoint) -> ScriptedProvider:
        made.append(ep.llm)
        return a

    observed: list[AttemptRecord] = []
    gw = Gateway(
        FakeRouter([a.endpoint], {}, "a"),
        sleep=Sleeps(),
        provider_factory=factory,
        on_attempt=observed.append,
    )
    extra: list[AttemptRecord] = []
    gw.add_observer(extra.append)
    await gw.ask("ProductManager", "WritePRD", MESSAGES)
    await gw.ask("Architect", "WriteDesign", MESSAGES)
    assert made == ["a"]
    assert [r.action for r in observed] == ["WritePRD", "WritePRD", "WriteDesign"]
    assert observed == extra == gw.attempts
    assert observed[0].call_id == observed[1].call_id != observed[2].call_id
    await gw.aclose()
    assert a.closed == 1
