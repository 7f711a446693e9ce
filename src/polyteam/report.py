"""The cost report of one project, read from its ledger (DESIGN §4, `polyteam report`).

Owns: aggregating `.polyteam/ledger.jsonl` by Role, Action and model; retries and fallbacks
(from the ledger's call ids); repairs and re-asks (from `state.json` "stats"); unpriced models;
and the counterfactual (the same tokens priced on the default model, from `pricing.json`).
Renders as summary lines (for `polyteam run`) and rich tables; the HTML page is
`polyteam.report_html`. Writing the ledger is `polyteam.cost.CostMeter`'s job.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from polyteam.errors import UsageError
from polyteam.ledger import read_ledger
from polyteam.prices import PRICES_AS_OF, cost_usd
from polyteam.providers.base import Price
from polyteam.redact import redact_obj
from polyteam.safepath import STATE_DIR


def _missing(path: Path, problem: str) -> UsageError:
    fix = "pass the project folder that `polyteam run` printed (it holds .polyteam/ledger.jsonl)"
    return UsageError(str(path), "", problem, fix)


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _num(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _group(rows: list[dict[str, Any]], key_fields: tuple[str, ...]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(str(row.get(f) or "?") for f in key_fields)
        g = groups.get(key)
        if g is None:
            g = groups[key] = {f: v for f, v in zip(key_fields, key, strict=True)}
            g.update(calls=0, ok=0, failed=0, input_tokens=0, output_tokens=0, cost_usd=0.0)
            g.update(latency_s=0.0, estimated=0, unpriced=False)
        g["calls"] += 1
        g["ok" if row.get("ok") else "failed"] += 1
        g["input_tokens"] += int(_num(row.get("input_tokens")))
        g["output_tokens"] += int(_num(row.get("output_tokens")))
        g["cost_usd"] += _num(row.get("cost_usd"))
        g["latency_s"] += _num(row.get("latency_s"))
        g["estimated"] += 1 if row.get("estimated") else 0
        g["unpriced"] = g["unpriced"] or bool(row.get("unpriced"))
    out = []
    for g in groups.values():
        g["mean_latency_s"] = round(g["latency_s"] / g["calls"], 3) if g["calls"] else 0.0
        g["latency_s"] = round(g["latency_s"], 3)
        g["cost_usd"] = round(g["cost_usd"], 8)
        out.append(g)
    return sorted(out, key=lambda g: (-g["cost_usd"], -g["calls"], tuple(g[f] for f in key_fields)))


def _retries_and_fallbacks(rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    """(retries, fallbacks, logical calls): a retry is a repeat on the same LLM within a call id,
    a fallback a move to another LLM within it. Lines without a call id count as their own call."""
    seen: dict[str, list[str]] = defaultdict(list)
    retries = fallbacks = anonymous = 0
    for row in rows:
        call_id, llm = str(row.get("call_id") or ""), str(row.get("llm") or "")
        if not call_id:
            anonymous += 1
            retries += 1 if int(_num(row.get("attempt"))) > 1 else 0
            continue
        llms = seen[call_id]
        if llm in llms:
            retries += 1
        elif llms:
            fallbacks += 1
        llms.append(llm)
    return retries, fallbacks, len(seen) + anonymous


def _counterfactual(rows: list[dict[str, Any]], pricing: dict[str, Any], actual: float) -> dict[str, Any]:
    default = pricing.get("default")
    if not isinstance(default, dict):
        return {"available": False, "reason": "no .polyteam/pricing.json with the default model"}
    base = {k: default.get(k) for k in ("llm", "provider", "model")}
    price = Price(_num(default.get("input")), _num(default.get("output")))
    base["price"] = {"input": price.input, "output": price.output, "source": default.get("source")}
    if default.get("source") == "unpriced":
        return {
            **base,
            "available": False,
            "reason": f"the default model {default.get('model')} has no price",
        }
    total = sum(
        cost_usd(price, int(_num(r.get("input_tokens"))), int(_num(r.get("output_tokens")))) for r in rows
    )
    saving = total - actual
    return {
        **base,
        "available": True,
        "cost_usd": round(total, 8),
        "saving_usd": round(saving, 8),
        "saving_pct": round(100.0 * saving / total, 1) if total > 0 else None,
    }


def _group_in_flight(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = str(row.get("action") or "?")
        g = groups.setdefault(key, {"action": key, "calls": 0, "reserved_usd": 0.0})
        g["calls"] += 1
        g["reserved_usd"] = round(g["reserved_usd"] + _num(row.get("reserved_usd")), 8)
    return sorted(groups.values(), key=lambda g: (-g["reserved_usd"], g["action"]))


def build_report(project_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Aggregate a project's ledger into the report dict that every renderer uses.

    Raises:
        UsageError: the folder does not exist or has no (or an empty) ledger (exit 2).
    """
    project = Path(project_dir)
    state_dir = project / STATE_DIR
    ledger = state_dir / "ledger.jsonl"
    if not project.is_dir():
        raise _missing(project, "no such project folder")
    if not ledger.is_file():
        raise _missing(ledger, "no ledger: no LLM call was recorded for this project")
    contents = read_ledger(ledger)  # raises ConfigError on a wrong-typed line (exit 2)
    rows, skipped = contents.attempts, contents.skipped
    in_flight = contents.in_flight
    if not rows and not in_flight:
        raise _missing(ledger, "the ledger is empty: no LLM call was recorded for this project")
    pricing = _load_json(state_dir / "pricing.json")
    state = _load_json(state_dir / "state.json")
    stats = state.get("stats")
    stats = stats if isinstance(stats, dict) else {}
    retries, fallbacks, logical = _retries_and_fallbacks(rows)
    by_model = _group(rows, ("llm", "provider", "model"))
    finished = sum(_num(r.get("cost_usd")) for r in rows)
    held = sum(_num(r.get("reserved_usd")) for r in in_flight)
    actual = round(finished + held, 8)
    errors: dict[str, int] = defaultdict(int)
    for row in rows:
        if not row.get("ok"):
            errors[str(row.get("error") or "unknown")] += 1
    report = {
        "project": str(project),
        "ledger": str(ledger),
        "totals": _totals(rows, logical, actual),
        "by_role": _group(rows, ("role",)),
        "by_action": _group(rows, ("action",)),
        "by_model": by_model,
        "retries": retries,
        "fallbacks": fallbacks,
        "repairs": stats.get("repairs"),
        "reasks": stats.get("reasks"),
        "action_fallbacks": stats.get("fallbacks"),
        "errors": dict(sorted(errors.items())),
        "unpriced": [
            {"llm": g["llm"], "provider": g["provider"], "model": g["model"], "calls": g["calls"]}
            for g in by_model
            if g["unpriced"]
        ],
        "in_flight_at_stop": {
            "calls": len(in_flight),
            "reserved_usd": round(held, 8),
            "by_action": _group_in_flight(in_flight),
        },
        "usage_out_of_range": sum(1 for r in rows if r.get("usage_out_of_range")),
        "price_sources": sorted({str((r.get("price") or {}).get("source")) for r in rows if r.get("price")}),
        "counterfactual": _counterfactual(rows, pricing, round(finished, 8)),
        "prices_as_of": pricing.get("as_of") or PRICES_AS_OF,
        "skipped_lines": skipped,
        "quality": _quality(state, project),
    }
    return redact_obj(report)


def _totals(rows: list[dict[str, Any]], logical: int, cost_usd: float) -> dict[str, Any]:
    return {
        "calls": len(rows),
        "logical_calls": logical,
        "ok": sum(1 for r in rows if r.get("ok")),
        "failed": sum(1 for r in rows if not r.get("ok")),
        "input_tokens": sum(int(_num(r.get("input_tokens"))) for r in rows),
        "output_tokens": sum(int(_num(r.get("output_tokens"))) for r in rows),
        "cost_usd": cost_usd,
        "latency_s": round(sum(_num(r.get("latency_s")) for r in rows), 3),
        "estimated": sum(1 for r in rows if r.get("estimated")),
    }


def _quality(state: dict[str, Any], project: Path) -> dict[str, Any]:
    """The quality section (polyteam.quality, the weak helper's): recomputed from state.json and the files."""
    from polyteam.quality import assess

    done, usage = state.get("done"), state.get("usage")
    if not isinstance(done, dict) or not isinstance(usage, dict):
        return {}
    return assess(done, {k: v for k, v in usage.items() if isinstance(v, dict)}, project)


def format_usd(value: float) -> str:
    """Dollars with enough digits to tell small calls apart ($0.000450, $0.0210, $12.34)."""
    if abs(value) >= 1:
        return f"${value:,.2f}"
    return f"${value:.4f}" if abs(value) >= 0.01 or value == 0 else f"${value:.6f}"


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A few lines for the end of `polyteam run` (and the top of `polyteam report`)."""
    t = report["totals"]
    lines = [
        f"cost {format_usd(t['cost_usd'])} for {t['calls']} LLM call{'' if t['calls'] == 1 else 's'} "
        f"({t['input_tokens']:,} input + {t['output_tokens']:,} output tokens, {t['latency_s']:.1f}s of calls)"
    ]
    extras = [f"{report['retries']} retries", f"{report['fallbacks']} fallbacks", f"{t['failed']} failed"]
    for key, label in (("repairs", "repairs"), ("reasks", "re-asks")):
        if report.get(key) is not None:
            extras.append(f"{report[key]} {label}")
    lines.append(", ".join(extras))
    roles = ", ".join(f"{g['role']} {format_usd(g['cost_usd'])}" for g in report["by_role"])
    lines.append(f"by role: {roles}")
    cf = report["counterfactual"]
    if cf.get("available"):
        verb = "saved" if cf["saving_usd"] >= 0 else "cost an extra"
        pct = f" ({abs(cf['saving_pct']):.0f}%)" if cf.get("saving_pct") is not None else ""
        lines.append(
            f"on {cf['model']} ({cf['llm']}) alone the same tokens would cost {format_usd(cf['cost_usd'])}: "
            f"routing {verb} {format_usd(abs(cf['saving_usd']))}{pct}"
        )
    else:
        lines.append(f"no single-model comparison: {cf.get('reason')}")
    if report["unpriced"]:
        names = ", ".join(sorted({u["model"] for u in report["unpriced"]}))
        lines.append(
            f"unpriced (counted as $0): {names}; add `price:` to its MODEL_LIST entry or a PRICES: entry"
        )
    flight = report.get("in_flight_at_stop") or {}
    if flight.get("calls"):
        lines.append(
            f"in flight at stop: {flight['calls']} call(s) that started and never finished (a killed "
            f"process), counted at their reservation {format_usd(flight['reserved_usd'])}"
        )
    if report.get("usage_out_of_range"):
        lines.append(
            f"{report['usage_out_of_range']} call(s) reported usage out of range: charged at the bound"
        )
    if report.get("skipped_lines"):
        lines.append(
            f"{report['skipped_lines']} unreadable ledger line(s) skipped (a killed run's last line)"
        )
    from polyteam.quality import quality_lines

    lines.extend(quality_lines(report.get("quality")))
    return lines


def project_summary(project_dir: str | os.PathLike[str]) -> list[str]:
    """`summary_lines` of a project, or one line saying no call was recorded (never raises UsageError)."""
    try:
        return summary_lines(build_report(project_dir))
    except UsageError:
        return ["no LLM call recorded for this project: cost $0"]


def rich_tables(report: dict[str, Any]) -> list[Any]:
    """The report as rich Tables: by Role, by Action and by model.

    They fit an 80-column terminal: numbers are never cut (short two-line headers), and a label
    column is as wide as its longest word, so WriteCode and WriteCodeReview stay whole and a long
    model name wraps at a space, never into the same abbreviation as another.
    """
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    tables = []
    for title, key, header in (
        ("By Role", "by_role", "Role"),
        ("By Action", "by_action", "Action"),
        ("By model", "by_model", "LLM (provider) model"),
    ):
        labels = [escape(_group_label(key, g)) for g in report[key]]
        longest = max((len(word) for text in labels for word in text.split()), default=len(header))
        table = Table(
            title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True
        )
        table.add_column(header, min_width=min(max(longest, 4), 40), overflow="fold")
        for col in _NUMBER_COLUMNS:
            table.add_column(col, justify="right", no_wrap=True)
        for label, g in zip(labels, report[key], strict=True):
            table.add_row(
                label,
                str(g["calls"]),
                str(g["failed"]),
                f"{g['input_tokens']:,}",
                f"{g['output_tokens']:,}",
                f"{g['cost_usd']:.6f}",
                f"{g['latency_s']:.2f}",
                f"{g['mean_latency_s']:.2f}",
            )
        tables.append(table)
    return tables


_NUMBER_COLUMNS = ("Calls", "Failed", "Input\ntok", "Output\ntok", "Cost\nUSD", "Latency\ns", "Mean\ns")


def _group_label(key: str, g: dict[str, Any]) -> str:
    if key == "by_role":
        return str(g["role"])
    if key == "by_action":
        return str(g["action"])
    label = f"{g['llm']} ({g['provider']}) {g['model']}"
    return label + " (unpriced)" if g.get("unpriced") else label
