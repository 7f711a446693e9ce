"""polyteam.cost and polyteam.ledger: the budget meter, the ledger's lines, reading them back."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from polyteam.cost import CostMeter
from polyteam.errors import BudgetExceededError
from polyteam.gateway import AttemptRecord
from polyteam.ledger import read_ledger
from polyteam.prices import CNY_PER_USD
from polyteam.providers.base import Endpoint, Price
from polyteam.redact import register_secret

LEDGER_FIELDS = {
    "ts", "role", "action", "llm", "provider", "model", "base_url", "attempt", "ok", "error",
    "input_tokens", "output_tokens", "cost_usd", "latency_s", "price",
}  # fmt: skip


def ep(model: str, kind: str = "openai", llm: str | None = None, **kw: object) -> Endpoint:
    return Endpoint(llm=llm or kind, kind=kind, base_url="http://127.0.0.1:9/v1", model=model, **kw)  # type: ignore[arg-type]


def rec(endpoint: Endpoint, **kw: object) -> AttemptRecord:
    base = dict(
        ts=1_700_000_000.0, role="Engineer", action="WriteCode", llm=endpoint.llm, provider=endpoint.kind,
        model=endpoint.model, base_url=endpoint.base_url, attempt=1, ok=True, error=None,
        input_tokens=1000, output_tokens=500, latency_s=0.25, call_id="c1", endpoint=endpoint,
    )  # fmt: skip
    base.update(kw)
    return AttemptRecord(**base)  # type: ignore[arg-type]


def lines(project: Path) -> list[dict]:
    return [json.loads(x) for x in (project / ".polyteam" / "ledger.jsonl").read_text().splitlines()]


# -- the ledger -----------------------------------------------------------------------------


def test_ledger_line_has_the_design_fields_and_the_price(tmp_path: Path) -> None:
    meter = CostMeter(tmp_path, None, ep("gpt-4o"), None)
    mini = ep("gpt-4o-mini-2024-07-18")
    meter.record(rec(mini), meter.reserve(mini, 1000, 500))
    meter.record(rec(mini, attempt=2, ok=False, error="rate_limited", input_tokens=0, output_tokens=0), 0.0)
    meter.record(rec(mini, estimated=True, call_id=""), 0.0)
    first, failed, estimated = lines(tmp_path)
    assert set(first) == LEDGER_FIELDS | {"call_id"}
    assert first["cost_usd"] == pytest.approx(0.00045)
    assert first["ts"] == "2023-11-14T22:13:20.000Z"
    assert (first["ok"], first["error"], first["attempt"]) == (True, None, 1)
    assert (failed["ok"], failed["error"], failed["cost_usd"], failed["attempt"]) == (
        False,
        "rate_limited",
        0,
        2,
    )
    assert estimated["estimated"] is True and "call_id" not in estimated
    assert meter.spent_usd == pytest.approx(0.0009)
    assert meter.reserved_usd == 0.0


def test_unknown_price_is_flagged_in_the_ledger(tmp_path: Path) -> None:
    meter = CostMeter(tmp_path, None, None, None)
    mystery = ep("mystery-1", kind="zhipu", llm="zhipu")
    meter.record(rec(mystery), meter.reserve(mystery, 10, 10))
    (line,) = lines(tmp_path)
    assert line["unpriced"] is True and line["cost_usd"] == 0
    pricing = json.loads((tmp_path / ".polyteam" / "pricing.json").read_text())
    assert {"llm": "zhipu", "provider": "zhipu", "model": "mystery-1", "input": 0.0, "output": 0.0,
            "source": "unpriced"} in pricing["models"]  # fmt: skip


def test_ledger_strings_are_redacted(tmp_path: Path) -> None:
    secret = "sk-canary-ledger-0123456789abcdef"
    register_secret(secret)
    leaky = ep("gpt-4o", llm="openai")
    leaky = replace(leaky, base_url=f"http://127.0.0.1:9/v1?key={secret}")
    meter = CostMeter(tmp_path, None, leaky, None)
    meter.record(rec(leaky, error=f"auth failed for {secret}"), 0.0)
    text = (tmp_path / ".polyteam" / "ledger.jsonl").read_text()
    assert secret not in text and "***" in text
    assert secret not in (tmp_path / ".polyteam" / "pricing.json").read_text()


def test_config_prices_come_from_settings_and_land_in_pricing_json(tmp_path: Path) -> None:
    settings = SimpleNamespace(prices={"gpt-4o": Price(1.0, 1.0)})
    default = ep("gpt-4o")
    meter = CostMeter(tmp_path, settings, default, None)
    meter.record(rec(default, input_tokens=1_000_000, output_tokens=0), 0.0)
    assert lines(tmp_path)[0]["cost_usd"] == pytest.approx(1.0)
    pricing = json.loads((tmp_path / ".polyteam" / "pricing.json").read_text())
    assert pricing["default"] == {"llm": "openai", "provider": "openai", "model": "gpt-4o", "input": 1.0,
                                  "output": 1.0, "source": "config"}  # fmt: skip
    assert pricing["as_of"]["spark"] and pricing["cny_per_usd"] == CNY_PER_USD


def test_resume_starts_from_the_ledger_total_and_survives_a_torn_tail(tmp_path: Path) -> None:
    priced = ep("gpt-4o", price=Price(100.0, 100.0))  # $0.10 per 1000 tokens
    first = CostMeter(tmp_path, None, priced, budget_usd=0.25)
    first.record(rec(priced, input_tokens=1000, output_tokens=0), first.reserve(priced, 1000, 0))
    with open(tmp_path / ".polyteam" / "ledger.jsonl", "a") as fh:
        fh.write('{"ts": "2026-01-01T00:00:00Z", "role": "Eng')  # a kill -9 mid-write
    second = CostMeter(tmp_path, None, priced, budget_usd=0.25)
    assert second.spent_usd == pytest.approx(0.1)
    second.record(rec(priced, input_tokens=1000, output_tokens=0), second.reserve(priced, 1000, 0))
    with pytest.raises(BudgetExceededError) as info:
        second.reserve(priced, 1000, 0)  # 0.2 spent + 0.1 > 0.25
    assert info.value.spent_usd == pytest.approx(0.2)
    contents = read_ledger(tmp_path / ".polyteam" / "ledger.jsonl")
    assert (len(contents.attempts), contents.skipped) == (2, 1)


# -- the budget -----------------------------------------------------------------------------


def test_reservation_math_counts_in_flight_worst_cases(tmp_path: Path) -> None:
    priced = ep("m", price=Price(10.0, 10.0))  # 1000 prompt + 9000 max tokens -> $0.10
    meter = CostMeter(tmp_path, None, priced, budget_usd=0.3)
    held = [meter.reserve(priced, 1000, 9000) for _ in range(3)]
    assert held == [pytest.approx(0.1)] * 3 and meter.reserved_usd == pytest.approx(0.3)
    with pytest.raises(BudgetExceededError) as info:
        meter.reserve(priced, 1000, 9000)
    assert info.value.next_call_usd == pytest.approx(0.1) and info.value.budget_usd == 0.3
    # the first call used only 1000 + 1000 tokens ($0.02): its release frees room for another
    meter.record(rec(priced, input_tokens=1000, output_tokens=1000), held[0])
    assert meter.spent_usd == pytest.approx(0.02)
    assert meter.reserved_usd == pytest.approx(0.2)
    meter.reserve(priced, 1000, 7000)  # 0.02 + 0.2 + 0.08 == 0.3: exactly the budget is allowed
    with pytest.raises(BudgetExceededError):
        meter.reserve(priced, 1, 0)


def test_free_calls_pass_a_spent_budget_and_no_budget_never_stops(tmp_path: Path) -> None:
    free = ep("llama", kind="open_llm")
    meter = CostMeter(tmp_path, None, free, budget_usd=1e-9)
    assert meter.reserve(free, 10_000, 10_000) == 0.0
    unlimited = CostMeter(tmp_path / "b", None, ep("gpt-4o"), budget_usd=None)
    assert unlimited.reserve(ep("gpt-4o"), 10**9, 10**9) > 1000


def test_concurrent_reservations_from_threads_never_overbook(tmp_path: Path) -> None:
    priced = ep("m", price=Price(10.0, 10.0))
    meter = CostMeter(tmp_path, None, priced, budget_usd=0.5)
    barrier = threading.Barrier(12)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            meter.reserve(priced, 1000, 9000)
            result = "ok"
        except BudgetExceededError:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["ok"] * 5 + ["refused"] * 7
    assert meter.reserved_usd == pytest.approx(0.5)


def test_concurrent_records_from_threads_write_whole_lines(tmp_path: Path) -> None:
    priced = ep("m", price=Price(1.0, 1.0))
    meter = CostMeter(tmp_path, None, priced, None)
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(25):
            meter.record(rec(priced, call_id=f"t{n}-{i}", input_tokens=1000, output_tokens=0), 0.0)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    contents = read_ledger(tmp_path / ".polyteam" / "ledger.jsonl")
    rows = contents.attempts
    assert (len(rows), contents.skipped) == (200, 0)
    assert len({r["call_id"] for r in rows}) == 200
    assert meter.spent_usd == pytest.approx(200 * 0.001)


def test_a_ledger_line_is_written_through_at_once_without_an_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # an fsync per attempt stalled every run's event loop (issue 7); the page cache survives kill -9
    priced = ep("m", price=Price(1.0, 1.0))
    meter = CostMeter(tmp_path, None, priced, None)

    def no_fsync(fd: int) -> None:
        raise AssertionError("the ledger must not fsync")

    monkeypatch.setattr("os.fsync", no_fsync)
    meter.record(rec(priced, call_id="one"), 0.0)
    # readable by another reader (a `polyteam report`, a resumed run) the moment record returns
    contents = read_ledger(tmp_path / ".polyteam" / "ledger.jsonl")
    rows = contents.attempts
    assert (len(rows), contents.skipped) == (1, 0) and rows[0]["call_id"] == "one"
