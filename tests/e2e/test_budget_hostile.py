"""The budget is a hard cap (issue 11), over real sockets against our own hostile server.

`hostile_server.HostileServer` answers as the team would but reports hostile usage (CJK at one token
a character, output above max_tokens, 10**9 tokens, negative and string counts). Whatever it
reports, the ledger's total (finished attempts' cost plus the reservation of attempts that started
and never finished) stays within the budget: in a fresh run, across a stop, a resume that keeps the
saved budget and a resume with a higher one, and across a kill -9 with calls in flight.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import genai_prices
import pytest
from _support import BASE_ENV, polyteam_args, project_in, run_polyteam
from hostile_server import USAGES, HostileServer

import canary
from canary import assert_no_canary

CJK_REQUIREMENT = "写一个带标签的命令行待办事项应用，支持添加、删除、列出任务，并按标签筛选和统计完成情况"
ENGLISH_REQUIREMENT = "Write a CLI todo app with tags"
#: $10 per million tokens: one call reserves a few cents, so small budgets bite within a run
PRICE = 10


def write_config(folder: Path, base_url: str, extra: str = "", routing: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(
        f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\n'
        f'OPENAI_API_BASE: "{base_url}/v1"\n'
        'OPENAI_API_MODEL: "gpt-4o-mini"\n'
        f"PRICES:\n  gpt-4o-mini: {{input: {PRICE}, output: {PRICE}}}\n" + extra
    )
    (folder / "multi_llm_config.yaml").write_text(routing)
    return folder


def ledger_rows(project: Path) -> list[dict[str, Any]]:
    text = (project / ".polyteam" / "ledger.jsonl").read_text()
    assert_no_canary(text, "ledger")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def ledger_total(project: Path) -> tuple[float, int]:
    """(what counts against the budget, attempts started and never finished)."""
    rows = ledger_rows(project)
    finished = {r["attempt_id"] for r in rows if r.get("event") != "started" and r.get("attempt_id")}
    orphans = [r for r in rows if r.get("event") == "started" and r["attempt_id"] not in finished]
    spent = sum(r["cost_usd"] for r in rows if r.get("event") != "started")
    return spent + sum(r["reserved_usd"] for r in orphans), len(orphans)


def assert_within(project: Path, budget: float, step: str) -> float:
    total, _ = ledger_total(project)
    assert total <= budget + 1e-9, f"{step}: the ledger says ${total:.6f} on a ${budget} budget"
    return total


@pytest.mark.parametrize("usage", USAGES)
def test_spend_never_exceeds_the_budget_across_stop_and_resumes(tmp_path: Path, usage: str) -> None:
    requirement = CJK_REQUIREMENT if usage == "cjk" else ENGLISH_REQUIREMENT
    first_budget, higher = 0.06, 0.2
    with HostileServer(usage=usage) as server:
        cfg = write_config(tmp_path / "cfg", server.base_url)
        run = run_polyteam(
            "run", requirement, "--workdir", "ws", "--config-dir", str(cfg), "--budget", str(first_budget),
            cwd=tmp_path,
        )  # fmt: skip
        assert run.returncode in (0, 1, 3), run.stderr
        project = project_in(tmp_path / "ws")
        assert_within(project, first_budget, "fresh run")
        assert (
            json.loads((project / ".polyteam/state.json").read_text())["settings"]["budget_usd"]
            == first_budget
        )
        if run.returncode == 3:
            assert "a resume keeps it unless --budget is given" in run.stderr and "spent $" in run.stderr
        kept = run_polyteam("run", "--resume", str(project), cwd=tmp_path)  # no --budget: the saved one holds
        assert kept.returncode in (0, 1, 3), kept.stderr
        assert_within(project, first_budget, "resume without --budget")
        more = run_polyteam("run", "--resume", str(project), "--budget", str(higher), cwd=tmp_path)
        assert more.returncode in (0, 1, 3), more.stderr
        total = assert_within(project, higher, "resume with a higher budget")
        assert server.seen, "the run never reached the server"
    attempts = [r for r in ledger_rows(project) if r.get("event") != "started"]
    if usage in ("over", "huge", "negative", "string"):
        # clamped and flagged, or (a count the provider could not read) charged at the reservation
        # (or the provider itself refused the report and estimated: still inside the bounds)
        flagged = [
            r
            for r in attempts
            if r.get("usage_out_of_range")
            or r.get("charged") == "reservation"
            or r.get("estimated")
            or not r["ok"]
        ]
        assert flagged, "a hostile report was not flagged"
    started = [r for r in ledger_rows(project) if r.get("event") == "started"]
    assert len(started) >= len(attempts)  # a started line before every attempt
    if usage in ("honest", "cjk", "over", "huge"):  # negative/string: the provider refuses the reply
        assert total > 0


def test_kill_9_with_calls_in_flight_counts_them_at_their_reservation(tmp_path: Path) -> None:
    budget = 1.0
    with HostileServer(hold=lambda tag: tag.startswith("WriteCode:")) as server:
        cfg = write_config(tmp_path / "cfg", server.base_url)
        proc = subprocess.Popen(
            polyteam_args("run", ENGLISH_REQUIREMENT, "--workdir", "ws", "--config-dir", str(cfg),
                          "--budget", str(budget), "--quiet"),
            cwd=tmp_path, env={**os.environ, **BASE_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            server.wait_for(2, lambda s: s.tag.startswith("WriteCode:"))  # two files in flight, held open
        finally:
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err
        project = project_in(tmp_path / "ws")
        total, orphans = ledger_total(project)
        assert orphans >= 2 and total <= budget
        server.release()
        resumed = run_polyteam("run", "--resume", str(project), cwd=tmp_path)  # the saved budget holds
        assert resumed.returncode in (0, 3), resumed.stderr
        assert_within(project, budget, "resume after kill -9")
        report = run_polyteam("report", str(project), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert f"in flight at stop: {orphans} call(s)" in report.stdout
    data = json.loads(run_polyteam("report", str(project), "--json", cwd=tmp_path).stdout)
    assert data["in_flight_at_stop"]["calls"] == orphans
    assert data["totals"]["cost_usd"] == pytest.approx(ledger_total(project)[0], abs=1e-6)


def test_an_unpriced_hosted_route_under_a_budget_exits_2_before_any_request(tmp_path: Path) -> None:
    with HostileServer() as server:
        routing = (
            "WriteCode: qwen-max\nMODEL_LIST:\n  qwen-max:\n"
            '    open_llm_api_base: "https://dashscope.aliyuncs.com/compatible-mode/v1"\n'
            f'    api_key: "{canary.OPEN_LLM_API_KEY}"\n'
        )
        cfg = write_config(tmp_path / "cfg", server.base_url, routing=routing)
        run = run_polyteam(
            "run",
            ENGLISH_REQUIREMENT,
            "--workdir",
            "ws",
            "--config-dir",
            str(cfg),
            "--budget",
            "1",
            cwd=tmp_path,
        )
        assert server.seen == []  # not even the PRD (on a priced route) was asked for
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "multi_llm_config.yaml: WriteCode: routes to qwen-max at dashscope.aliyuncs.com, which has no known "
        "price; add price: {input: …, output: …} under MODEL_LIST.qwen-max, or run without a budget"
    ]
    assert not (tmp_path / "ws").exists()


def test_check_refuses_an_unpriced_route_under_max_budget_as_the_run_would(tmp_path: Path) -> None:
    # issue 11 leftover: `check` said "ok" to a config whose run then exited 2 before any request
    routing = (
        "WriteCode: qwen-max\nMODEL_LIST:\n  qwen-max:\n"
        '    open_llm_api_base: "https://dashscope.aliyuncs.com/compatible-mode/v1"\n'
        f'    api_key: "{canary.OPEN_LLM_API_KEY}"\n'
    )
    line = (
        "multi_llm_config.yaml: WriteCode: routes to qwen-max at dashscope.aliyuncs.com, which has no known "
        "price; add price: {input: …, output: …} under MODEL_LIST.qwen-max, or run without a budget"
    )
    capped = write_config(tmp_path / "capped", "http://127.0.0.1:9", extra="MAX_BUDGET: 2\n", routing=routing)
    checked = run_polyteam("check", "--config-dir", str(capped), cwd=tmp_path)
    assert (checked.returncode, checked.stderr.strip().splitlines()) == (2, [line])
    as_json = run_polyteam("check", "--json", "--config-dir", str(capped), cwd=tmp_path)
    document = json.loads(as_json.stdout)
    assert as_json.returncode == 2 and document["ok"] is False
    assert [i["key"] for i in document["issues"]] == ["WriteCode"] and "no known price" in as_json.stdout
    uncapped = write_config(tmp_path / "uncapped", "http://127.0.0.1:9", routing=routing)
    checked = run_polyteam("check", "--config-dir", str(uncapped), cwd=tmp_path)
    assert checked.returncode == 0 and checked.stdout.strip() == "ok"
    assert "no known price for qwen-max at dashscope.aliyuncs.com: counted as $0" in checked.stderr
    assert_no_canary(checked.stdout + checked.stderr + as_json.stdout, "check output")


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_a_budget_that_is_not_a_positive_amount_exits_2(tmp_path: Path, value: str) -> None:
    with HostileServer() as server:
        cfg = write_config(tmp_path / "cfg", server.base_url)
        run = run_polyteam(
            "run", ENGLISH_REQUIREMENT, "--config-dir", str(cfg), "--budget", value, cwd=tmp_path
        )
        (cfg / "config.yaml").write_text((cfg / "config.yaml").read_text() + f"MAX_BUDGET: {value}\n")
        check = run_polyteam("check", "--config-dir", str(cfg), cwd=tmp_path)
        assert server.seen == []
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1 and "--budget" in run.stderr
    assert "Traceback" not in run.stderr + check.stderr
    assert check.returncode == 2 and "MAX_BUDGET" in check.stderr


def test_routes_json_shows_prices_and_sources(tmp_path: Path) -> None:
    routing = (
        "ProductManager: deepseek-chat\nArchitect: gpt-5.1\nWriteCode: llama-local\nMODEL_LIST:\n"
        '  deepseek-chat:\n    open_llm_api_base: "https://api.deepseek.com/v1"\n'
        f'    api_key: "{canary.OPEN_LLM_API_KEY}"\n'
        '  gpt-5.1:\n    api_type: openai\n    open_llm_api_base: "https://api.openai.com/v1"\n'
        f'    api_key: "{canary.OPENAI_API_KEY}"\n'
        '  llama-local:\n    open_llm_api_base: "http://127.0.0.1:9/v1"\n'
    )
    cfg = write_config(tmp_path / "cfg", "http://127.0.0.1:9", routing=routing)
    result = run_polyteam("routes", "--json", "--config-dir", str(cfg), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    by_action = {r["action"]: r["price"] for r in doc["routes"]}
    genai = f"genai-prices {genai_prices.__version__}"
    assert by_action["WritePRD"] == {"input": 0.27, "output": 1.1, "source": genai}  # DeepSeek
    assert by_action["WriteDesign"] == {"input": 1.25, "output": 10.0, "source": genai}  # gpt-5.1
    assert by_action["WriteCode"] == {"input": 0.0, "output": 0.0, "source": "local"}
    assert doc["default"]["price"] == {"input": PRICE, "output": PRICE, "source": "config"}
    table = run_polyteam("routes", "--config-dir", str(cfg), cwd=tmp_path)
    assert table.returncode == 0 and genai in table.stdout and "0.27" in table.stdout
