"""`polyteam run` as a subprocess against the emulator's team responder, fully offline.

Routing as in issue 4's "Done when": ProductManager -> openai, Architect -> claude, ProjectManager
-> spark, Engineer -> zhipu, WriteCode -> a MODEL_LIST model. Every assertion about where a request
went comes from the emulator's request log (protocol, path, model, tag = the action). Also: the
budget stop (exit 3, nothing past the budget) and `--resume`, `kill -9` then `--resume`, Ctrl-C.
Generated code is compiled with compile(), never run.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _support import BASE_ENV, REQUIREMENT, polyteam_args, project_in, run_polyteam, write_team_config

from canary import assert_no_canary

ROUTE_OF = {  # tag prefix -> (protocol, path, model) the request must reach
    "WritePRD": ("openai", "/v1/chat/completions", "gpt-4o-mini"),
    "WriteDesign": ("anthropic", "/v1/messages", "claude-3-5-haiku-20241022"),
    "WriteTasks": ("spark", "/v3.5/chat", "generalv3.5"),
    "WriteCode": ("openai", "/coder/v1/chat/completions", "coder-7b"),
    "WriteCodeReview": ("zhipu", "/api/paas/v4/chat/completions", "glm-4-flash"),
}


def action_of(tag: str) -> str:
    return tag.split(":", 1)[0]


def tag_of(state_key: str) -> str:
    """The emulator's tag for a checkpoint key ("WriteCodeReview:a.py:1" -> "WriteCodeReview:a.py")."""
    parts = state_key.split(":")
    return ":".join(parts[:2]) if parts[0] == "WriteCodeReview" else state_key


def closure(deps: dict[str, list[str]], f: str) -> set[str]:
    seen: set[str] = set()
    stack = list(deps.get(f, []))
    while stack:
        d = stack.pop()
        if d not in seen:
            seen.add(d)
            stack.extend(deps.get(d, []))
    return seen


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["ts_start"] < b["ts_end"] and b["ts_start"] < a["ts_end"]


def test_run_routes_each_action_writes_every_artifact_and_overlaps_independent_files(
    make_emulator: Any, tmp_path: Path
) -> None:
    emu = make_emulator(responder="team", latency_ms=150, log_path=tmp_path / "emulator.jsonl")
    cfg = write_team_config(tmp_path / "cfg", emu.base_url)
    result = run_polyteam("run", REQUIREMENT, "--workdir", "ws", "--config-dir", str(cfg), cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    project = project_in(tmp_path / "ws")
    assert f"project: {project}" in result.stdout
    assert "calls per LLM:" in result.stdout

    # every request reached exactly its configured protocol, path and model
    requests = emu.requests
    assert requests and all(r["status"] == 200 for r in requests)
    for r in requests:
        assert (r["protocol"], r["path"], r["model"]) == ROUTE_OF[action_of(r["tag"])], r
    assert {action_of(r["tag"]) for r in requests} == set(ROUTE_OF)
    assert sum(1 for r in requests if action_of(r["tag"]) in ("WritePRD", "WriteDesign", "WriteTasks")) == 3

    # every artifact exists
    tasks = json.loads((project / "docs/tasks.json").read_text())
    files = list(tasks["task_list"])
    assert len(files) >= 3
    for name in (
        "docs/requirement.txt", "docs/prd.md", "docs/prd.json", "docs/system_design.md",
        "docs/system_design.json", "docs/tasks.md", "docs/tasks.json", "requirements.txt", "README.md",
        ".polyteam/state.json", ".polyteam/ledger.jsonl",
        *files, *(f"docs/code_review/{f}.md" for f in files),
    ):  # fmt: skip
        assert (project / name).is_file(), name
    assert "```mermaid" in (project / "docs/system_design.md").read_text()
    state = json.loads((project / ".polyteam/state.json").read_text())
    assert state["status"] == "done"
    assert {f"WriteCode:{f}" for f in files} <= set(state["done"])

    # each file was written once and reviewed once; generated Python compiles (never run)
    code_tags = sorted(r["tag"] for r in requests if action_of(r["tag"]) == "WriteCode")
    assert code_tags == sorted(f"WriteCode:{f}" for f in files)
    for f in files:
        if f.endswith(".py"):
            compile((project / f).read_text(), f, "exec")

    # files without mutual dependency were requested concurrently; dependents waited
    deps = {a["file"]: a["depends_on"] for a in tasks["logic_analysis"]}
    write = {r["tag"].split(":", 1)[1]: r for r in requests if action_of(r["tag"]) == "WriteCode"}
    independent = [
        (a, b)
        for a, b in itertools.combinations(files, 2)
        if a not in closure(deps, b) and b not in closure(deps, a)
    ]
    assert independent, deps
    assert any(overlaps(write[a], write[b]) for a, b in independent)
    for f in files:
        for d in closure(deps, f):
            assert write[d]["ts_end"] <= write[f]["ts_start"], (f, d)


def test_budget_stop_exits_3_then_resume_with_more_budget_finishes(
    make_emulator: Any, tmp_path: Path
) -> None:
    emu = make_emulator(responder="team", log_path=tmp_path / "emulator.jsonl")
    # every model at $100 per million tokens, so the worst-case checks bite after a few calls
    prices = "PRICES:\n" + "".join(
        f"  {m}: {{input: 100, output: 100}}\n"
        for m in ("gpt-4o-mini", "claude-3-5-haiku-20241022", "generalv3.5", "glm-4-flash", "coder-7b")
    )
    budget = 0.5
    cfg = write_team_config(tmp_path / "cfg", emu.base_url, extra=prices + f"MAX_BUDGET: {budget}\n")
    first = run_polyteam("run", REQUIREMENT, "--workdir", "ws", "--config-dir", str(cfg), cwd=tmp_path)
    assert first.returncode == 3, first.stderr + first.stdout
    assert "--resume" in first.stderr and "--budget" in first.stderr and "spent $" in first.stderr
    assert "Traceback" not in first.stderr
    project = project_in(tmp_path / "ws")
    state = json.loads((project / ".polyteam/state.json").read_text())
    assert state["status"] == "budget"
    assert "WritePRD" in state["done"] and "WriteCode:main.py" not in state["done"]

    # no request past the budget: what the emulator served costs no more than the budget
    served = list(emu.requests)
    spent = sum((r["prompt_tokens"] + r["completion_tokens"]) * 100 / 1e6 for r in served)
    assert spent <= budget
    ledger = [json.loads(line) for line in (project / ".polyteam/ledger.jsonl").read_text().splitlines()]
    ledger = [row for row in ledger if row.get("event") != "started"]  # attempt lines only
    assert len(ledger) == len(served)  # every request was metered, none made behind the meter's back
    assert sum(row["cost_usd"] for row in ledger) <= budget

    second = run_polyteam("run", "--resume", str(project), "--budget", "50", cwd=tmp_path)
    assert second.returncode == 0, second.stderr + second.stdout
    again = [r["tag"] for r in emu.requests[len(served) :]]
    assert again and not {tag_of(k) for k in state["done"]} & set(again)
    final = json.loads((project / ".polyteam/state.json").read_text())
    assert final["status"] == "done"
    assert (project / "README.md").is_file() and (project / "main.py").is_file()


def _wait_mid_run(emu: Any, proc: subprocess.Popen[str], count: int) -> None:
    """Block (event-based, with a deadline) until `count` requests were answered; explain a dead run."""
    if not emu.wait_for_requests(count, timeout=60):
        proc.kill()
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"run ended early ({proc.returncode}) after {len(emu.requests)} requests: {err[-2000:]}")


def _signal_mid_run(
    make_emulator: Any, tmp_path: Path, sig: signal.Signals
) -> tuple[Any, subprocess.Popen[str], str, str]:
    """Start a team run, send it `sig` once PRD, design, tasks and the first file were answered (the
    Engineer is mid-way) and wait for it to end: (emulator, process, stdout, stderr)."""
    emu = make_emulator(responder="team", latency_ms=300, log_path=tmp_path / "emulator.jsonl")
    cfg = write_team_config(tmp_path / "cfg", emu.base_url)
    proc = subprocess.Popen(
        polyteam_args("run", REQUIREMENT, "--workdir", "ws", "--config-dir", str(cfg), "--quiet"),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **BASE_ENV},
    )  # fmt: skip
    try:
        _wait_mid_run(emu, proc, 4)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # a no-op once it has ended
    assert_no_canary(out + err, f"output of a run stopped by {sig.name}")
    return emu, proc, out, err


def _resume_repeats_nothing_saved(emu: Any, tmp_path: Path, project: Path, saved: set[str]) -> None:
    before = len(emu.requests)
    resumed = run_polyteam("run", "--resume", str(project), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    again = [r["tag"] for r in emu.requests[before:]]
    assert not {tag_of(k) for k in saved} & set(again), again
    assert json.loads((project / ".polyteam/state.json").read_text())["status"] == "done"
    for f in json.loads((project / "docs/tasks.json").read_text())["task_list"]:
        assert (project / f).is_file(), f


def test_kill_9_mid_run_then_resume_never_repeats_a_completed_action(
    make_emulator: Any, tmp_path: Path
) -> None:
    emu, proc, _out, err = _signal_mid_run(make_emulator, tmp_path, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL, err
    project = project_in(tmp_path / "ws")
    state = json.loads((project / ".polyteam/state.json").read_text())
    assert state["status"] == "running"  # killed: nobody got to write another status
    saved = set(state["done"])
    assert {"WritePRD", "WriteDesign", "WriteTasks"} <= saved
    assert not all(f"WriteCode:{f}" in saved for f in state["done"]["WriteTasks"]["task_list"])
    _resume_repeats_nothing_saved(emu, tmp_path, project, saved)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_saves_state_and_exits_130_then_resume_finishes(make_emulator: Any, tmp_path: Path) -> None:
    emu, proc, _out, err = _signal_mid_run(make_emulator, tmp_path, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "interrupted, state saved" in err and "--resume" in err and "Traceback" not in err
    project = project_in(tmp_path / "ws")
    state = json.loads((project / ".polyteam/state.json").read_text())
    assert state["status"] == "interrupted"
    _resume_repeats_nothing_saved(emu, tmp_path, project, set(state["done"]))


def test_a_failing_route_exits_1_with_one_line_and_state_saved(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(responder="team", faults="auth:*@anthropic", log_path=tmp_path / "emulator.jsonl")
    cfg = write_team_config(tmp_path / "cfg", emu.base_url)
    result = run_polyteam(
        "run", REQUIREMENT, "--workdir", "ws", "--config-dir", str(cfg), "--quiet", cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    failed = [line for line in result.stderr.splitlines() if line.startswith("polyteam: run failed:")]
    assert len(failed) == 1 and "WriteDesign" in failed[0] and "--resume" in failed[0]
    project = project_in(tmp_path / "ws")
    state = json.loads((project / ".polyteam/state.json").read_text())
    assert state["status"] == "failed" and list(state["done"]) == ["WritePRD"]
    assert not any(action_of(r["tag"]) == "WriteTasks" for r in emu.requests)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "REQUIREMENT"),
        (("x", "--review-k", "-1"), "--review-k"),
        (("x", "--budget", "0"), "--budget"),
        (("--resume", "nowhere"), "no saved run"),
    ],
)
def test_bad_run_options_are_one_line_errors(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    result = run_polyteam("run", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
