"""The budget meter: reservations against the cap, and one ledger line before and after each attempt.

`CostMeter` is the gateway's `Meter`. Before an attempt it reserves the worst case (the input
bound plus `max_tokens` at the endpoint's price, `polyteam.prices`) and refuses with
`BudgetExceededError` if spent + reserved in flight + that worst case would cross the budget; it
appends a `started` line. After the attempt it releases the reservation and appends the priced
attempt line (`polyteam.ledger`). With an existing ledger (a resumed run) it starts from what the
ledger says was spent, counting attempts that started and never ended (a killed process) at their
reservation: the budget caps the project's spend, whatever happened to earlier processes. An
attempt that costs more than its reservation (it cannot, unless a price changed) trips the meter:
the next reservation is refused, so the run stops at the budget. Retries, fallbacks and the moment
of the check are `polyteam.gateway`'s; reading the ledger into a report is `polyteam.report`'s.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from polyteam.atomic import atomic_write_text
from polyteam.errors import BudgetExceededError, ConfigError
from polyteam.gateway import AttemptRecord, AttemptStart
from polyteam.ledger import STARTED, LedgerFile, read_ledger
from polyteam.prices import CNY_PER_USD, PRICES_AS_OF, PriceQuote, price_for
from polyteam.providers.base import Endpoint
from polyteam.redact import redact_obj
from polyteam.safepath import STATE_DIR

_EPS = 1e-12


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CostMeter:
    """The gateway's Meter: budget reservations and the ledger's lines (module docstring).

    Thread-safe (one lock around the counters and the appends); the gateway's coroutines call it
    without awaiting, so it is safe for concurrent calls on one event loop too.

    Raises (constructor): ConfigError for a budget that is not a positive finite amount, or a
    ledger with wrong-typed lines.
    """

    def __init__(
        self,
        project_dir: str | os.PathLike[str],
        settings: Any = None,
        default_endpoint: Endpoint | None = None,
        budget_usd: float | None = None,
    ) -> None:
        from polyteam.budget import checked_budget

        self.budget_usd = checked_budget(budget_usd, "budget")
        self.state_dir = Path(project_dir) / STATE_DIR
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.ledger_path = self.state_dir / "ledger.jsonl"
        self.pricing_path = self.state_dir / "pricing.json"
        self.default_endpoint = default_endpoint
        self._config_prices: Mapping[str, Any] = getattr(settings, "prices", None) or {}
        self._lock = threading.Lock()
        self._reserved = 0.0
        self._open: dict[str, float] = {}  # attempt id -> its reservation, while in flight
        self._tripped = ""
        self._quotes: dict[tuple[str, str, str], tuple[Endpoint, PriceQuote]] = {}
        contents = read_ledger(self.ledger_path)
        self._spent = contents.spent_usd
        #: attempts an earlier process started and never finished: counted at their reservation
        self._orphans = {str(r["attempt_id"]): float(r["reserved_usd"]) for r in contents.in_flight}
        self._ledger = LedgerFile(self.ledger_path)
        self._earlier_models = self._read_earlier_models()
        with self._lock:
            if default_endpoint is not None:
                self._quote_locked(default_endpoint)  # also writes pricing.json
            else:
                self._write_pricing_locked()

    def close(self) -> None:
        """Close the ledger's descriptor (a later attempt opens it again)."""
        with self._lock:
            self._ledger.close()

    # -- what the run and the CLI read -------------------------------------------------------
    @property
    def spent_usd(self) -> float:
        """What counts against the budget: the ledger's costs, earlier runs included, plus attempts
        a killed process left in flight, at their reservation."""
        with self._lock:
            return self._spent + sum(self._orphans.values())

    @property
    def reserved_usd(self) -> float:
        """Worst-case cost of the attempts in flight."""
        with self._lock:
            return self._reserved

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._open)

    def quote(self, endpoint: Endpoint) -> PriceQuote:
        """The price that applies to `endpoint` (remembered for pricing.json)."""
        with self._lock:
            return self._quote_locked(endpoint)

    # -- the gateway's Meter ----------------------------------------------------------------
    def reserve(
        self, endpoint: Endpoint, prompt_tokens: int, max_tokens: int, start: AttemptStart | None = None
    ) -> float:
        """Reserve this attempt's worst case (input bound + max_tokens at the endpoint's price) and
        append its `started` line.

        Raises:
            BudgetExceededError: spent + in-flight reservations + this worst case > the budget,
                or an earlier attempt cost more than its reservation.
            ConfigError: a budget is set and the endpoint has no known price.
        """
        with self._lock:
            quote = self._quote_locked(endpoint)
            if self.budget_usd is not None and quote.unpriced:
                from polyteam.budget import unpriced_issue

                raise ConfigError([unpriced_issue(start.action if start else "", endpoint)])
            worst = quote.cost(max(0, prompt_tokens), max(0, max_tokens))
            spent = self._spent + sum(self._orphans.values())
            if self.budget_usd is not None and (
                self._tripped or spent + self._reserved + worst > self.budget_usd + _EPS
            ):
                raise BudgetExceededError(
                    spent, self.budget_usd, worst, reserved_usd=self._reserved, in_flight=len(self._open),
                    reason=self._tripped,
                )  # fmt: skip
            self._reserved += worst
            if start is not None:
                self._open[start.attempt_id] = worst
                self._ledger.append(redact_obj(self._started_line(endpoint, quote, start, worst)))
            return worst

    def record(self, record: AttemptRecord, reserved: float) -> None:
        """Release the reservation, price the attempt and append its ledger line (written through at once)."""
        endpoint = record.endpoint or Endpoint(
            llm=record.llm,
            kind=record.provider,  # type: ignore[arg-type]
            base_url=record.base_url,
            model=record.model,
        )
        with self._lock:
            quote = self._quote_locked(endpoint)
            cost = quote.cost(max(0, record.input_tokens), max(0, record.output_tokens))
            held = self._open.pop(record.attempt_id, None) if record.attempt_id else None
            if held is not None and cost > held + _EPS:
                self._tripped = (
                    f"an attempt on {endpoint.model} cost ${cost:.6f}, more than its ${held:.6f} reservation"
                )
            self._orphans.pop(record.attempt_id, None)  # a meter reopened mid-run (a renamed project)
            self._reserved = max(0.0, self._reserved - (held if held is not None else reserved))
            self._spent += cost
            self._ledger.append(redact_obj(self._attempt_line(record, quote, cost)))

    # -- internals (call with the lock held) ------------------------------------------------
    def _started_line(
        self, endpoint: Endpoint, quote: PriceQuote, start: AttemptStart, worst: float
    ) -> dict[str, Any]:
        return {
            "event": STARTED,
            "ts": _iso(time.time()),
            "role": start.role,
            "action": start.action,
            "llm": endpoint.llm,
            "provider": endpoint.kind,
            "model": endpoint.model,
            "base_url": endpoint.base_url,
            "attempt": start.attempt,
            "call_id": start.call_id,
            "attempt_id": start.attempt_id,
            "input_bound": start.input_bound,
            "max_tokens": start.max_tokens,
            "reserved_usd": round(worst, 10),
            "price": quote.to_json(),
        }

    def _attempt_line(self, record: AttemptRecord, quote: PriceQuote, cost: float) -> dict[str, Any]:
        line: dict[str, Any] = {
            "ts": _iso(record.ts or time.time()),
            "role": record.role,
            "action": record.action,
            "llm": record.llm,
            "provider": record.provider,
            "model": record.model,
            "base_url": record.base_url,
            "attempt": record.attempt,
            "ok": record.ok,
            "error": record.error,
            "input_tokens": max(0, record.input_tokens),
            "output_tokens": max(0, record.output_tokens),
            "cost_usd": round(cost, 10),
            "latency_s": round(max(0.0, record.latency_s), 4),
            "price": quote.to_json(),
        }
        if record.estimated:
            line["estimated"] = True
        if record.call_id:
            line["call_id"] = record.call_id
        if record.attempt_id:
            line["attempt_id"] = record.attempt_id
        # obs's hook (issue 16): what a provider's support desk asks for, and why the reply ended
        if getattr(record, "request_id", None):
            line["request_id"] = record.request_id
        if getattr(record, "finish_reason", None):
            line["finish_reason"] = record.finish_reason
        if record.charged != "reported":
            line["charged"] = record.charged
        if record.reported_usage is not None:
            line["usage_out_of_range"] = True
            line["reported_usage"] = {
                "input_tokens": record.reported_usage[0],
                "output_tokens": record.reported_usage[1],
            }
        if quote.unpriced:
            line["unpriced"] = True
        return line

    def _quote_locked(self, endpoint: Endpoint) -> PriceQuote:
        key = endpoint.key
        known = self._quotes.get(key)
        if known is not None:
            return known[1]
        quote = price_for(endpoint, self._config_prices)
        self._quotes[key] = (endpoint, quote)
        self._write_pricing_locked()  # once per new endpoint: keep pricing.json in step
        return quote

    def _write_pricing_locked(self) -> None:
        default = None
        if self.default_endpoint is not None:
            ep = self.default_endpoint
            quote = self._quotes[ep.key][1]
            default = {"llm": ep.llm, "provider": ep.kind, "model": ep.model, **quote.to_json()}
        models = {
            (m.get("llm"), m.get("provider"), m.get("model")): m for m in self._earlier_models
        }  # a resumed run keeps what earlier runs priced
        for ep, quote in self._quotes.values():
            models[(ep.llm, ep.kind, ep.model)] = {
                "llm": ep.llm,
                "provider": ep.kind,
                "model": ep.model,
                **quote.to_json(),
            }
        data = {
            "units": "USD per million tokens",
            "as_of": PRICES_AS_OF,
            "cny_per_usd": CNY_PER_USD,
            "default": default,
            "models": list(models.values()),
        }
        atomic_write_text(self.pricing_path, json.dumps(redact_obj(data), indent=2) + "\n", durable=False)

    def _read_earlier_models(self) -> list[dict[str, Any]]:
        try:
            data = json.loads(self.pricing_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return []
        models = data.get("models") if isinstance(data, dict) else None
        return [m for m in models if isinstance(m, dict)] if isinstance(models, list) else []
