"""Prices, the usage ledger and the budget (DESIGN §4).

Owns: the built-in, dated price table; which price applies to an endpoint (MODEL_LIST entry
`price` > config.yaml `PRICES:` > built-in table); and `CostMeter`, the gateway's `Meter`, which
reserves each attempt's worst case against the budget and appends one redacted JSON line per
attempt to `<project>/.polyteam/ledger.jsonl` (append + close, no fsync: safe against a killed
process, cheap enough to run on the event loop). Reading the ledger back into a report lives in
`polyteam.report`; retries, fallbacks and the moment of the check live in `polyteam.gateway`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from polyteam.atomic import atomic_write_text
from polyteam.errors import BudgetExceededError
from polyteam.gateway import AttemptRecord
from polyteam.providers.base import Endpoint, Price
from polyteam.redact import redact_obj
from polyteam.safepath import STATE_DIR

#: when each part of the built-in table was last checked against the vendor's list prices
PRICES_AS_OF: dict[str, str] = {
    "openai": "2025-08, platform.openai.com/pricing, standard tier",
    "anthropic": "2025-11, anthropic.com/pricing, base input/output",
    "zhipu": "2024-12, bigmodel.cn/pricing, CNY converted",
    "spark": "2024-10, xfyun.cn token packs, CNY converted, approximate",
}
#: the conversion rate used for the CNY list prices below (CNY per 1 USD)
CNY_PER_USD = 7.2

# USD per million input/output tokens. A dated snapshot (gpt-4o-mini-2024-07-18) is priced by the
# longest key it starts with (followed by "-", ":", "@" or "_"), so only snapshots priced
# differently from their family need their own key.
_USD_PER_M: dict[str, tuple[float, float]] = {
    # OpenAI
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.0),
    "gpt-4o-2024-05-13": (5.0, 15.0),
    "gpt-4o-mini": (0.15, 0.60),
    "chatgpt-4o-latest": (5.0, 15.0),
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-4-turbo-preview": (10.0, 30.0),
    "gpt-4-1106-preview": (10.0, 30.0),
    "gpt-4-0125-preview": (10.0, 30.0),
    "gpt-4": (30.0, 60.0),
    "gpt-4-32k": (60.0, 120.0),
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-3.5-turbo-1106": (1.0, 2.0),
    "gpt-3.5-turbo-16k": (3.0, 4.0),
    "o1": (15.0, 60.0),
    "o1-mini": (1.10, 4.40),
    "o1-pro": (150.0, 600.0),
    "o3": (2.0, 8.0),
    "o3-mini": (1.10, 4.40),
    "o3-pro": (20.0, 80.0),
    "o4-mini": (1.10, 4.40),
    # Anthropic
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-3-5-haiku": (0.80, 4.0),
    "claude-3-opus": (15.0, 75.0),
    "claude-3-sonnet": (3.0, 15.0),
    "claude-3-haiku": (0.25, 1.25),
    "claude-2.1": (8.0, 24.0),
    "claude-2.0": (8.0, 24.0),
    "claude-instant-1.2": (0.80, 2.40),
}

# CNY per million input/output tokens, converted at CNY_PER_USD.
_CNY_PER_M: dict[str, tuple[float, float]] = {
    # Zhipu GLM (model names)
    "glm-4": (100.0, 100.0),
    "glm-4-0520": (100.0, 100.0),
    "glm-4-plus": (50.0, 50.0),
    "glm-4-air": (1.0, 1.0),
    "glm-4-airx": (10.0, 10.0),
    "glm-4-long": (1.0, 1.0),
    "glm-4-flashx": (0.10, 0.10),
    "glm-4-flash": (0.0, 0.0),  # free
    "glm-4v": (50.0, 50.0),
    "glm-3-turbo": (1.0, 1.0),
    # iFlytek Spark (by `domain`, which is also the wire model name); sold as prepaid token packs
    "lite": (0.0, 0.0),  # Spark Lite is free
    "general": (0.0, 0.0),  # v1.1's older domain name for Lite
    "generalv2": (15.0, 15.0),
    "generalv3": (15.0, 15.0),  # Spark Pro
    "pro-128k": (15.0, 15.0),
    "generalv3.5": (30.0, 30.0),  # Spark Max
    "max-32k": (32.0, 32.0),
    "4.0Ultra": (70.0, 70.0),
}


def _build_table() -> dict[str, Price]:
    table = {name.lower(): Price(i, o) for name, (i, o) in _USD_PER_M.items()}
    for name, (i, o) in _CNY_PER_M.items():
        table[name.lower()] = Price(round(i / CNY_PER_USD, 6), round(o / CNY_PER_USD, 6))
    return table


#: model (lower case) -> USD per million tokens
BUILTIN_PRICES: dict[str, Price] = _build_table()

#: endpoint kinds that serve the user's own (open) models: free unless the config prices them
OPEN_KINDS = frozenset({"open_llm", "local"})

PriceSource = Literal["entry", "config", "builtin", "open", "unpriced"]

_SNAPSHOT_SEPARATORS = ("-", ":", "@", "_")


@dataclass(frozen=True)
class PriceQuote:
    """The price that applies to one endpoint, and where it came from."""

    price: Price
    source: PriceSource

    @property
    def unpriced(self) -> bool:
        """A hosted model with no known price: costed 0 and flagged in the report."""
        return self.source == "unpriced"

    def to_json(self) -> dict[str, Any]:
        return {"input": self.price.input, "output": self.price.output, "source": self.source}


FREE = Price(0.0, 0.0)


def lookup_price(model: str, table: Mapping[str, Price]) -> Price | None:
    """The price of `model` in `table`: the exact name, else the longest key it is a snapshot of.

    Matching ignores case and a leading vendor path (`openai/gpt-4o` is `gpt-4o`).
    """
    lowered = {k.lower(): v for k, v in table.items()}
    for name in dict.fromkeys([model.lower(), model.lower().rsplit("/", 1)[-1]]):
        if not name:
            continue
        if name in lowered:
            return lowered[name]
        best = ""
        for key in lowered:
            if len(key) > len(best) and any(name.startswith(key + sep) for sep in _SNAPSHOT_SEPARATORS):
                best = key
        if best:
            return lowered[best]
    return None


def _as_price(value: Any) -> Price:
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping):
        return Price(float(value.get("input", 0.0)), float(value.get("output", 0.0)))
    return Price(float(value.input), float(value.output))


def price_for(endpoint: Endpoint, config_prices: Mapping[str, Any] | None = None) -> PriceQuote:
    """The price of one endpoint: its MODEL_LIST `price`, else `PRICES:`, else the built-in table.

    `PRICES:` is looked up by the wire model name, then by the LLM name, then (Spark) by domain.
    Open kinds (open_llm, local) cost 0 unless priced; a hosted model with no known price costs 0
    and is flagged `unpriced`.
    """
    if endpoint.price is not None:
        return PriceQuote(_as_price(endpoint.price), "entry")
    names = [n for n in (endpoint.model, endpoint.llm, endpoint.domain) if n]
    if config_prices:
        table = {str(k): _as_price(v) for k, v in config_prices.items()}
        for name in names:
            found = lookup_price(name, table)
            if found is not None:
                return PriceQuote(found, "config")
    if endpoint.kind in OPEN_KINDS:
        return PriceQuote(FREE, "open")
    for name in [n for n in (endpoint.model, endpoint.domain) if n]:
        found = lookup_price(name, BUILTIN_PRICES)
        if found is not None:
            return PriceQuote(found, "builtin")
    return PriceQuote(FREE, "unpriced")


def cost_usd(price: Price, input_tokens: int, output_tokens: int) -> float:
    """USD for these tokens at `price` (USD per million tokens)."""
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


def read_ledger(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The ledger's lines as dicts, and how many lines could not be parsed (a killed run's torn tail)."""
    rows: list[dict[str, Any]] = []
    bad = 0
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return rows, 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad += 1
    return rows, bad


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CostMeter:
    """The gateway's Meter: budget reservations and one ledger line per attempt.

    Thread-safe (one lock around the counters and the append); the gateway's coroutines call it
    without awaiting, so it is safe for concurrent calls on one event loop too. With an existing
    ledger (a resumed run) `spent_usd` starts from its total: the budget caps the project's spend.
    """

    def __init__(
        self,
        project_dir: str | os.PathLike[str],
        settings: Any = None,
        default_endpoint: Endpoint | None = None,
        budget_usd: float | None = None,
    ) -> None:
        self.state_dir = Path(project_dir) / STATE_DIR
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.ledger_path = self.state_dir / "ledger.jsonl"
        self.pricing_path = self.state_dir / "pricing.json"
        self.budget_usd = budget_usd
        self.default_endpoint = default_endpoint
        self._config_prices: Mapping[str, Any] = getattr(settings, "prices", None) or {}
        self._lock = threading.Lock()
        self._reserved = 0.0
        self._quotes: dict[tuple[str, str, str], tuple[Endpoint, PriceQuote]] = {}
        rows, _ = read_ledger(self.ledger_path)
        self._spent = sum(float(r.get("cost_usd") or 0.0) for r in rows)
        self._needs_newline = self._ledger_has_torn_tail()
        self._earlier_models = self._read_earlier_models()
        with self._lock:
            if default_endpoint is not None:
                self._quote_locked(default_endpoint)  # also writes pricing.json
            else:
                self._write_pricing_locked()

    # -- what the run and the CLI read -------------------------------------------------------
    @property
    def spent_usd(self) -> float:
        """Everything this project's ledger has recorded, including earlier runs."""
        with self._lock:
            return self._spent

    @property
    def reserved_usd(self) -> float:
        """Worst-case cost of the attempts in flight."""
        with self._lock:
            return self._reserved

    def quote(self, endpoint: Endpoint) -> PriceQuote:
        """The price that applies to `endpoint` (remembered for pricing.json)."""
        with self._lock:
            return self._quote_locked(endpoint)

    # -- the gateway's Meter ----------------------------------------------------------------
    def reserve(self, endpoint: Endpoint, prompt_tokens: int, max_tokens: int) -> float:
        """Reserve this attempt's worst case (prompt + max_tokens at the endpoint's price).

        Raises:
            BudgetExceededError: spent + in-flight reservations + this worst case > the budget.
        """
        with self._lock:
            quote = self._quote_locked(endpoint)
            worst = cost_usd(quote.price, max(0, prompt_tokens), max(0, max_tokens))
            if self.budget_usd is not None and self._spent + self._reserved + worst > self.budget_usd + 1e-12:
                raise BudgetExceededError(self._spent, self.budget_usd, worst)
            self._reserved += worst
            return worst

    def record(self, record: AttemptRecord, reserved: float) -> None:
        """Release `reserved`, price the attempt and append its ledger line (written through at once).

        No fsync: the line is in the OS page cache when this returns, which a killed process
        (Ctrl-C, kill -9) cannot lose; an fsync per attempt would stall the event loop of every run
        in the process (issue 7). The run's checkpoints are the durable record (`polyteam.workspace`).
        """
        endpoint = record.endpoint or Endpoint(
            llm=record.llm,
            kind=record.provider,  # type: ignore[arg-type]
            base_url=record.base_url,
            model=record.model,
        )
        with self._lock:
            quote = self._quote_locked(endpoint)
            cost = cost_usd(quote.price, record.input_tokens, record.output_tokens)
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
                "input_tokens": record.input_tokens,
                "output_tokens": record.output_tokens,
                "cost_usd": round(cost, 10),
                "latency_s": round(record.latency_s, 4),
            }
            if record.estimated:
                line["estimated"] = True
            if record.call_id:
                line["call_id"] = record.call_id
            # obs's hook (issue 16): what a provider's support desk asks for, and why the reply ended
            if getattr(record, "request_id", None):
                line["request_id"] = record.request_id
            if getattr(record, "finish_reason", None):
                line["finish_reason"] = record.finish_reason
            if quote.unpriced:
                line["unpriced"] = True
            text = json.dumps(redact_obj(line), ensure_ascii=False) + "\n"
            self._reserved = max(0.0, self._reserved - reserved)
            self._spent += cost
            self._append_locked(text)

    # -- internals (call with the lock held) ------------------------------------------------
    def _quote_locked(self, endpoint: Endpoint) -> PriceQuote:
        key = endpoint.key
        known = self._quotes.get(key)
        if known is not None:
            return known[1]
        quote = price_for(endpoint, self._config_prices)
        self._quotes[key] = (endpoint, quote)
        self._write_pricing_locked()  # once per new endpoint: keep pricing.json in step
        return quote

    def _append_locked(self, text: str) -> None:
        with open(self.ledger_path, "a", encoding="utf-8") as fh:
            if self._needs_newline:  # a killed run left half a line: never glue ours onto it
                fh.write("\n")
                self._needs_newline = False
            fh.write(text)  # closed (so flushed) at once: a killed process loses no whole line

    def _ledger_has_torn_tail(self) -> bool:
        try:
            with open(self.ledger_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() == 0:
                    return False
                fh.seek(-1, os.SEEK_END)
                return fh.read(1) != b"\n"
        except FileNotFoundError:
            return False

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
        except (FileNotFoundError, json.JSONDecodeError):
            return []
        models = data.get("models") if isinstance(data, dict) else None
        return [m for m in models if isinstance(m, dict)] if isinstance(models, list) else []
