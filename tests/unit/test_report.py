"""polyteam.report: aggregation, retries/fallbacks, unpriced flags, the counterfactual, HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from canary import assert_no_canary, canary_endpoint
from polyteam.cost import CostMeter
from polyteam.errors import UsageError
from polyteam.gateway import AttemptRecord
from polyteam.providers.base import Endpoint
from polyteam.report import build_report, project_summary, rich_tables, summary_lines
from polyteam.report_html import bar_chart_svg, render_html

# each holds its kind's canary key: a key reaching the ledger or a report fails the suite
GPT4O = canary_endpoint(llm="openai", kind="openai", base_url="http://127.0.0.1:9/v1", model="gpt-4o")
MINI = canary_endpoint(llm="mini", kind="openai", base_url="http://127.0.0.1:9/v1", model="gpt-4o-mini")
SONNET = canary_endpoint(
    llm="claude", kind="claude", base_url="http://127.0.0.1:9", model="claude-3-5-sonnet-20241022"
)
LLAMA = canary_endpoint(llm="llama", kind="open_llm", base_url="http://127.0.0.1:9/llama/v1", model="llama")
MYSTERY = canary_endpoint(
    llm="zhipu", kind="zhipu", base_url="http://127.0.0.1:9/api/paas/v4", model="glm-99"
)


def attempt(
    ep: Endpoint, role: str, action: str, call_id: str, n: int, ok: bool, tin: int, tout: int
) -> AttemptRecord:
    return AttemptRecord(
        ts=1_700_000_000.0 + n, role=role, action=action, llm=ep.llm, provider=ep.kind, model=ep.model,
        base_url=ep.base_url, attempt=n, ok=ok, error=None if ok else "server_error", input_tokens=tin,
        output_tokens=tout, latency_s=0.5, call_id=call_id, endpoint=ep,
    )  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    meter = CostMeter(tmp_path, None, GPT4O, None)
    for record in (
        attempt(MINI, "ProductManager", "WritePRD", "c1", 1, True, 1000, 500),
        attempt(SONNET, "Architect", "WriteDesign", "c2", 1, False, 0, 0),
        attempt(SONNET, "Architect", "WriteDesign", "c2", 2, True, 2000, 1000),  # a retry
        attempt(LLAMA, "Engineer", "WriteCode", "c3", 1, False, 0, 0),
        attempt(MINI, "Engineer", "WriteCode", "c3", 2, True, 3000, 1500),  # a fallback
        attempt(MYSTERY, "Engineer", "WriteCodeReview", "c4", 1, True, 100, 100),  # unpriced
    ):
        meter.record(record, 0.0)
    state = {"version": 1, "stats": {"repairs": 2, "reasks": 1, "fallbacks": 1, "calls": 4}}
    (tmp_path / ".polyteam" / "state.json").write_text(json.dumps(state))
    return tmp_path


def test_totals_retries_fallbacks_and_stats(project: Path) -> None:
    report = build_report(project)
    t = report["totals"]
    assert (t["calls"], t["logical_calls"], t["ok"], t["failed"]) == (6, 4, 4, 2)
    assert (t["input_tokens"], t["output_tokens"]) == (6100, 3100)
    assert t["cost_usd"] == pytest.approx(0.00045 + 0.00135 + 0.021)
    assert (report["retries"], report["fallbacks"]) == (1, 1)
    assert (report["repairs"], report["reasks"], report["action_fallbacks"]) == (2, 1, 1)
    assert report["errors"] == {"server_error": 2}


def test_grouping_by_role_action_and_model(project: Path) -> None:
    report = build_report(project)
    roles = {g["role"]: g for g in report["by_role"]}
    assert set(roles) == {"ProductManager", "Architect", "Engineer"}
    assert (roles["Engineer"]["calls"], roles["Engineer"]["failed"]) == (3, 1)
    assert roles["Engineer"]["cost_usd"] == pytest.approx(0.00135)
    assert roles["Architect"]["mean_latency_s"] == pytest.approx(0.5)
    assert [g["role"] for g in report["by_role"]][0] == "Architect"  # most expensive first
    actions = {g["action"]: g["calls"] for g in report["by_action"]}
    assert actions == {"WritePRD": 1, "WriteDesign": 2, "WriteCode": 2, "WriteCodeReview": 1}
    models = {g["llm"]: g for g in report["by_model"]}
    assert models["mini"]["input_tokens"] == 4000 and models["mini"]["cost_usd"] == pytest.approx(0.0018)
    assert models["llama"]["cost_usd"] == 0 and not models["llama"]["unpriced"]
    assert models["zhipu"]["unpriced"]
    assert report["unpriced"] == [{"llm": "zhipu", "provider": "zhipu", "model": "glm-99", "calls": 1}]


def test_counterfactual_prices_every_token_on_the_default_model(project: Path) -> None:
    cf = build_report(project)["counterfactual"]
    assert cf["available"] and (cf["llm"], cf["model"]) == ("openai", "gpt-4o")
    assert cf["cost_usd"] == pytest.approx((6100 * 2.5 + 3100 * 10) / 1e6)
    assert cf["saving_usd"] == pytest.approx(0.04625 - 0.0228)
    assert cf["saving_pct"] == pytest.approx(50.7, abs=0.1)


def test_counterfactual_without_pricing_json_says_why(project: Path) -> None:
    (project / ".polyteam" / "pricing.json").unlink()
    cf = build_report(project)["counterfactual"]
    assert cf["available"] is False and "pricing.json" in cf["reason"]


def test_summary_lines(project: Path) -> None:
    lines = summary_lines(build_report(project))
    text = "\n".join(lines)
    assert lines[0].startswith("cost $0.0228 for 6 LLM calls (6,100 input + 3,100 output tokens")
    assert "1 retries, 1 fallbacks, 2 failed, 2 repairs, 1 re-asks" in text
    assert "by role: Architect $0.0210, Engineer $0.001350, ProductManager $0.000450" in text
    assert "on gpt-4o (openai) alone the same tokens would cost $0.0462: routing saved $0.0234 (51%)" in text
    assert "unpriced (counted as $0): glm-99" in text


def test_rich_tables_flag_unpriced(project: Path) -> None:
    from rich.console import Console

    console = Console(record=True, width=200)
    for table in rich_tables(build_report(project)):
        console.print(table)
    out = console.export_text()
    assert "By Role" in out and "By Action" in out and "WriteCodeReview" in out
    assert "glm-99 (unpriced)" in out


def test_missing_or_empty_ledger_is_a_one_line_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        build_report(tmp_path / "nope")
    assert "no such project folder" in str(info.value)
    with pytest.raises(UsageError) as info:
        build_report(tmp_path)
    issue = info.value.issue
    assert (
        issue.file.endswith("ledger.jsonl") and "no ledger" in issue.problem and "polyteam run" in issue.fix
    )
    (tmp_path / ".polyteam").mkdir()
    (tmp_path / ".polyteam" / "ledger.jsonl").write_text("\n")
    with pytest.raises(UsageError, match="the ledger is empty"):
        build_report(tmp_path)
    assert "\n" not in str(info.value)


def test_torn_last_line_is_skipped_and_counted(project: Path) -> None:
    with open(project / ".polyteam" / "ledger.jsonl", "a") as fh:
        fh.write('{"role": "Eng')
    report = build_report(project)
    assert report["skipped_lines"] == 1 and report["totals"]["calls"] == 6
    assert "1 unreadable ledger line(s) skipped" in summary_lines(report)[-1]


def test_html_page_is_self_contained_and_escaped(project: Path) -> None:
    evil = Endpoint(
        llm="evil", kind="open_llm", base_url="http://127.0.0.1:9/v1", model="<img src=x onerror=alert(1)>"
    )
    CostMeter(project, None, GPT4O, None).record(
        attempt(evil, "Engineer", "WriteCode", "c5", 1, True, 1, 1), 0.0
    )
    page = render_html(build_report(project))
    assert_no_canary(page, "the HTML report")
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 2
    assert "<img" not in page and "&lt;img src=x" in page
    for external in ("http://", "https://", "<script", "url(", "@import", "<link"):
        assert external not in page.replace(str(project), ""), external
    assert "Cost by Role" in page and "Cost by model" in page and "Unpriced models" in page


def test_html_says_saved_or_extra_by_the_sign_of_the_saving(project: Path) -> None:
    report = build_report(project)
    assert report["counterfactual"]["saving_usd"] > 0
    assert "saved by routing" in render_html(report)
    dearer = {**report, "counterfactual": {**report["counterfactual"], "saving_usd": -0.5}}
    page = render_html(dearer)
    assert "extra cost of routing" in page and "saved by routing" not in page and "$-" not in page


def test_bar_chart_scales_bars_to_the_largest_value() -> None:
    svg = bar_chart_svg("t", [("a", 2.0), ("b", 1.0), ("c", 0.0)], width=440)
    widths = [float(w) for w in re.findall(r'<rect x="\d+" y="\d+" width="([\d.]+)"', svg)]
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[2] == 0.0


def test_project_summary_never_raises(project: Path, tmp_path: Path) -> None:
    assert project_summary(project) == summary_lines(build_report(project))
    assert project_summary(tmp_path / "nothing") == ["no LLM call recorded for this project: cost $0"]
