"""CostMeter behind a real polyteam.gateway.Gateway: one ledger line per attempt, budget stops.

The provider is a scripted in-process fake (queued completions or errors plus a call log), the
wrapper-test pattern of STYLE.md; provider paths over real sockets are tested elsewhere.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from polyteam.cost import CostMeter
from polyteam.errors import AuthError, BudgetExceededError, ServerError
from polyteam.gateway import Gateway
from polyteam.providers.base import (
    CallOptions,
    Completion,
    Delta,
    Endpoint,
    Message,
    Price,
)
from polyteam.usage import prompt_token_bound

MESSAGES = [Message("system", "You are Engineer running WriteCode."), Message("user", "File: main.py")]


class ScriptedProvider:
    def __init__(
        self, endpoint: Endpoint, script: list[Completion | Exception], gate: asyncio.Event | None = None
    ):
        self.endpoint = endpoint
        self.script = list(script)
        self.calls: list[CallOptions] = []
        self.gate = gate

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        self.calls.append(options)
        if self.gate is not None:
            await self.gate.wait()
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, Exception):
            raise item
        return item

    async def stream(
        self, messages: list[Message], options: CallOptions
    ) -> AsyncIterator[Delta | Completion]:
        completion = await self.complete(messages, options)
        yield Delta(completion.text)
        yield completion

    async def aclose(self) -> None:
        return None


class StubRouter:
    def __init__(self, endpoints: dict[str, Endpoint], route_llm: str) -> None:
        self.endpoints = endpoints
        self.route_llm = route_llm

    def route(self, role: str, action: str) -> SimpleNamespace:
        return SimpleNamespace(
            role=role, action=action, llm=self.route_llm, endpoint=self.endpoints[self.route_llm]
        )

    def endpoint(self, llm: str) -> Endpoint:
        return self.endpoints[llm]


async def no_sleep(_: float) -> None:
    return None


def endpoint(llm: str, model: str, fallback: tuple[str, ...] = (), **kw: object) -> Endpoint:
    return Endpoint(
        llm=llm, kind="openai", base_url=f"http://127.0.0.1:9/{llm}/v1", model=model, fallback=fallback, **kw
    )  # type: ignore[arg-type]


def ok(n_in: int = 100, n_out: int = 200) -> Completion:
    return Completion(text="done", input_tokens=n_in, output_tokens=n_out, model="m", finish_reason="stop")


def make(tmp_path: Path, scripts: dict[str, list], route: str, budget: float | None = None, **eps: Endpoint):
    providers: dict[str, ScriptedProvider] = {}

    def factory(ep: Endpoint) -> ScriptedProvider:
        providers[ep.llm] = ScriptedProvider(ep, scripts[ep.llm])
        return providers[ep.llm]

    meter = CostMeter(tmp_path, None, eps[route], budget)
    gateway = Gateway(StubRouter(eps, route), meter=meter, sleep=no_sleep, provider_factory=factory)
    return gateway, meter, providers


def ledger(tmp_path: Path, event: str | None = None) -> list[dict]:
    """The ledger's attempt lines (or, with event="started", its started lines)."""
    rows = [json.loads(x) for x in (tmp_path / ".polyteam" / "ledger.jsonl").read_text().splitlines()]
    return [r for r in rows if r.get("event") == event]


async def test_success_retry_and_fallback_each_get_a_ledger_line(tmp_path: Path) -> None:
    eps = {
        "openai": endpoint("openai", "gpt-4o", fallback=("cheap",)),
        "cheap": endpoint("cheap", "gpt-4o-mini"),
    }
    scripts = {
        "openai": [ok(), ServerError("overloaded"), ok(), AuthError("bad key")],
        "cheap": [ok(90, 100)],
    }
    gateway, meter, _ = make(tmp_path, scripts, "openai", **eps)
    await gateway.ask("Engineer", "WriteCode", MESSAGES, CallOptions(max_tokens=300))  # success
    await gateway.ask("Engineer", "WriteCode", MESSAGES, CallOptions(max_tokens=300))  # 500, then retry ok
    await gateway.ask("Engineer", "WriteCode", MESSAGES, CallOptions(max_tokens=300))  # auth -> fallback
    await gateway.aclose()
    rows = ledger(tmp_path)
    summary = [(r["llm"], r["attempt"], r["ok"], r["error"]) for r in rows]
    assert summary == [
        ("openai", 1, True, None),
        ("openai", 1, False, "server_error"),
        ("openai", 2, True, None),
        ("openai", 1, False, "auth"),
        ("cheap", 2, True, None),
    ]
    assert len({rows[0]["call_id"], rows[1]["call_id"], rows[3]["call_id"]}) == 3
    assert rows[1]["call_id"] == rows[2]["call_id"] and rows[3]["call_id"] == rows[4]["call_id"]
    assert rows[0]["cost_usd"] == pytest.approx((100 * 2.5 + 200 * 10) / 1e6)
    assert rows[4]["cost_usd"] == pytest.approx((90 * 0.15 + 100 * 0.6) / 1e6)
    assert rows[1]["cost_usd"] == 0 and rows[4]["model"] == "gpt-4o-mini"
    assert meter.spent_usd == pytest.approx(sum(r["cost_usd"] for r in rows))
    assert meter.reserved_usd == pytest.approx(0.0)


async def test_a_call_that_could_cross_the_budget_is_never_made(tmp_path: Path) -> None:
    eps = {"openai": endpoint("openai", "m", price=Price(1000.0, 1000.0))}
    worst = (prompt_token_bound(MESSAGES) + 100) * 1000 / 1e6
    gateway, meter, providers = make(tmp_path, {"openai": [ok(10, 10)]}, "openai", budget=worst + 0.01, **eps)
    await gateway.ask("Engineer", "WriteCode", MESSAGES, CallOptions(max_tokens=100))  # spends $0.02
    assert meter.spent_usd == pytest.approx(0.02)
    with pytest.raises(BudgetExceededError):  # 0.02 + worst > worst + 0.01
        await gateway.ask("Engineer", "WriteCode", MESSAGES, CallOptions(max_tokens=100))
    assert len(providers["openai"].calls) == 1
    assert len(ledger(tmp_path)) == 1


async def test_concurrent_asks_reserve_against_one_budget(tmp_path: Path) -> None:
    price = Price(1000.0, 1000.0)
    eps = {"openai": endpoint("openai", "m", price=price)}
    worst = (prompt_token_bound(MESSAGES) + 100) * 1000 / 1e6
    gate = asyncio.Event()
    provider: list[ScriptedProvider] = []

    def factory(ep: Endpoint) -> ScriptedProvider:
        provider.append(ScriptedProvider(ep, [ok(1, 1)], gate=gate))
        return provider[0]

    meter = CostMeter(tmp_path, None, eps["openai"], budget_usd=worst * 3.5)
    gateway = Gateway(StubRouter(eps, "openai"), meter=meter, sleep=no_sleep, provider_factory=factory)
    tasks = [
        asyncio.create_task(gateway.ask("Engineer", "WriteCode", MESSAGES, CallOptions(max_tokens=100)))
        for _ in range(5)
    ]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not (provider and len(provider[0].calls) == 3 and sum(t.done() for t in tasks) == 2):
        assert loop.time() < deadline, "the asks never settled into 3 in flight + 2 refused"
        await asyncio.sleep(0.01)
    assert meter.reserved_usd == pytest.approx(3 * worst)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert sum(isinstance(r, BudgetExceededError) for r in results) == 2
    assert meter.reserved_usd == pytest.approx(0.0)
    assert len(ledger(tmp_path)) == 3
    await gateway.aclose()


# -- hostile usage reports, started lines, in flight at a kill (issue 11) ------------------------


@pytest.mark.parametrize(
    ("n_in", "n_out", "charged_out"),
    [
        (50, 10**9, 100),  # 10^9 output tokens: charged at max_tokens
        (10**9, 5, None),  # 10^9 input tokens: charged at the input bound
        (-9000, -9000, 100),  # negative: not a count, charged at the bounds
        ("12", 3.5, 100),  # wrong types: likewise
    ],
)
async def test_out_of_range_usage_is_clamped_flagged_and_never_crosses_the_budget(
    tmp_path: Path, n_in: object, n_out: object, charged_out: int | None
) -> None:
    eps = {"openai": endpoint("openai", "m", price=Price(1000.0, 1000.0))}
    bound = prompt_token_bound(MESSAGES)
    worst = (bound + 100) * 1000 / 1e6
    hostile = Completion(text="x", input_tokens=n_in, output_tokens=n_out, model="m")  # type: ignore[arg-type]
    gateway, meter, _ = make(tmp_path, {"openai": [hostile]}, "openai", budget=worst * 1.5, **eps)
    answer = await gateway.ask("Engineer", "WriteCode", MESSAGES, CallOptions(max_tokens=100))
    (row,) = ledger(tmp_path)
    assert row["usage_out_of_range"] is True and row["charged"] == "clamped"
    assert 0 <= row["input_tokens"] <= bound and 0 <= row["output_tokens"] <= 100
    if charged_out is not None:
        assert row["output_tokens"] == charged_out
    assert (answer.completion.input_tokens, answer.completion.output_tokens) == (
        row["input_tokens"],
        row["output_tokens"],
    )
    assert 0 <= row["cost_usd"] <= worst + 1e-12 and meter.spent_usd <= worst * 1.5
    with pytest.raises(BudgetExceededError):  # the clamped worst case left no room for another
        await gateway.ask("Engineer", "WriteCode", MESSAGES, CallOptions(max_tokens=100))
    await gateway.aclose()


async def test_every_attempt_has_a_started_line_first_with_its_reservation(tmp_path: Path) -> None:
    eps = {"openai": endpoint("openai", "gpt-4o")}
    gateway, _, _ = make(tmp_path, {"openai": [ServerError("overloaded"), ok()]}, "openai", **eps)
    await gateway.ask("Engineer", "WriteCode", MESSAGES, CallOptions(max_tokens=300))
    await gateway.aclose()
    raw = [json.loads(x) for x in (tmp_path / ".polyteam" / "ledger.jsonl").read_text().splitlines()]
    assert [r.get("event", "attempt") for r in raw] == ["started", "attempt", "started", "attempt"]
    for started, finished in ((raw[0], raw[1]), (raw[2], raw[3])):
        assert started["attempt_id"] == finished["attempt_id"] and started["call_id"] == finished["call_id"]
        assert started["max_tokens"] == 300 and started["input_bound"] == prompt_token_bound(MESSAGES)
        assert started["reserved_usd"] == pytest.approx((started["input_bound"] * 2.5 + 300 * 10) / 1e6)
        assert finished["price"]["source"].startswith("genai-prices ")


async def test_attempts_left_in_flight_by_a_killed_process_count_at_their_reservation(tmp_path: Path) -> None:
    eps = {"openai": endpoint("openai", "m", price=Price(1000.0, 1000.0))}
    worst = (prompt_token_bound(MESSAGES) + 100) * 1000 / 1e6
    gate = asyncio.Event()  # never set: the "process" dies with the attempt in flight
    first = CostMeter(tmp_path, None, eps["openai"], worst * 2.5)

    def factory(ep: Endpoint) -> ScriptedProvider:
        return ScriptedProvider(ep, [ok(1, 1)], gate=gate)

    gateway = Gateway(StubRouter(eps, "openai"), meter=first, sleep=no_sleep, provider_factory=factory)
    task = asyncio.create_task(gateway.ask("Engineer", "WriteCode", MESSAGES, CallOptions(max_tokens=100)))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not ((tmp_path / ".polyteam" / "ledger.jsonl").exists() and ledger(tmp_path, "started")):
        assert loop.time() < deadline
        await asyncio.sleep(0.01)
    # a second process opens the ledger while the first is "dead" (its started line never finished)
    second = CostMeter(tmp_path, None, eps["openai"], worst * 2.5)
    assert second.spent_usd == pytest.approx(worst)
    second.reserve(eps["openai"], prompt_token_bound(MESSAGES), 100)
    with pytest.raises(BudgetExceededError):  # worst (orphan) + worst (held) + worst > 2.5 worst
        second.reserve(eps["openai"], prompt_token_bound(MESSAGES), 100)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # a cancelled attempt is charged at its reservation: the provider may bill it
    (row,) = ledger(tmp_path)
    assert row["error"] == "cancelled" and row["charged"] == "reservation"
    assert row["cost_usd"] == pytest.approx(worst)
    await gateway.aclose()
