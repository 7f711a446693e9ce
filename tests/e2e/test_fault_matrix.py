"""The fault matrix (issue 5): the whole team, as a real `polyteam run` subprocess, once per fault.

Each run talks to an EmulatorThread (responder "team") with one `--faults` spec applied, and must
either complete or stop cleanly with its state saved: never a traceback, never a lost artifact,
never a canary secret in its output. One routing serves every case, so each fault lands on the
wire it is meaningful for:

    ProductManager -> openai (gpt-4o-mini)         WritePRD
    Architect      -> claude                       WriteDesign
    ProjectManager -> spark (WebSocket)            WriteTasks
    Engineer       -> zhipu                        WriteCodeReview
    WriteCode      -> coder-7b (MODEL_LIST, openai wire, timeout 3 s, fallback: [coder-backup])

What each fault must give (exit status; ledger `error` kind of the failed attempts; how it heals):

    429 + Retry-After on WritePRD (openai)   0  rate_limited  retried after exactly the Retry-After
    500 x2 on WriteCode:main.py (openai)     0  server_error  retried (3rd attempt ok)
    529 x2 on WriteDesign (anthropic)        0  server_error  retried (3rd attempt ok)
    timeout on coder-7b (held request)       0  transport     the 3 s endpoint timeout, then retried
    truncate x2 on coder-7b (half a body)    0  transport     retried
    truncate on spark (stream cut, no close) 0  transport     retried
    malformed on every openai-wire reply     0  (none)        every reply repaired (no failed attempt)
    wsclose on spark (WriteTasks)            0  transport     retried
    auth on every coder-7b request           0  auth          not retried; fallback to coder-backup
    500 forever on WriteCode:main.py         1  server_error  3 tries x 2 LLMs, then a clean stop:
                                                              state "failed", every done action's files
                                                              kept; with the fault gone `--resume` finishes
                                                              without requesting a saved action again

The team asks without streaming on HTTP, so `truncate` on an HTTP wire is a body cut half way under
its Content-Length; Spark always streams, so `truncate@spark` is a stream whose socket just ends.

Generated code is compiled with compile(), never run.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _support import REQUIREMENT, project_in, run_polyteam, write_team_config

import canary
from canary import assert_no_canary

RUN_TIMEOUT = 90


@dataclass(frozen=True)
class Fault:
    spec: str  # the emulator's --faults spec
    exit: int  # the run's exit status
    error: str | None  # the ledger's error kind of the failed attempts (None: no attempt fails)
    action: str  # the action whose calls the fault hits
    heal: str  # "retry" (same LLM answers later), "fallback" (the next LLM answers), "repair", "none"
    emulator: tuple[tuple[str, Any], ...] = ()  # extra Emulator kwargs


FAULTS: dict[str, Fault] = {
    "429-retry-after": Fault("429@WritePRD", 0, "rate_limited", "WritePRD", "retry", (("retry_after_ms", 1000),)),
    "500": Fault("500:2@WriteCode:main.py", 0, "server_error", "WriteCode", "retry"),
    "529": Fault("529:2@anthropic", 0, "server_error", "WriteDesign", "retry"),
    "timeout": Fault("timeout@coder-7b", 0, "transport", "WriteCode", "retry"),
    "truncate-body": Fault("truncate:2@coder-7b", 0, "transport", "WriteCode", "retry"),
    "truncate-stream": Fault("truncate@spark", 0, "transport", "WriteTasks", "retry"),
    "malformed": Fault("malformed:*@openai", 0, None, "WriteCode", "repair"),
    "wsclose": Fault("wsclose@spark", 0, "transport", "WriteTasks", "retry"),
    "auth-fallback": Fault("auth:*@coder-7b", 0, "auth", "WriteCode", "fallback"),
    "500-exhausted": Fault("500:*@WriteCode:main.py", 1, "server_error", "WriteCode", "none"),
}  # fmt: skip


def write_config(folder: Path, base_url: str) -> Path:
    """The shared team config; coder-7b has a 3 s timeout and falls back to coder-backup."""
    model_list = f"""MODEL_LIST:
  coder-7b:
    open_llm_api_base: "{base_url}/coder/v1"
    api_key: "{canary.OPEN_LLM_API_KEY}"
    timeout: 3
    fallback: [coder-backup]
  coder-backup:
    open_llm_api_base: "{base_url}/backup/v1"
    api_key: "{canary.OPEN_LLM_API_KEY}"
    model: coder-backup-3b
    timeout: 3
"""
    return write_team_config(folder, base_url, model_list=model_list)


def run_team(tmp_path: Path, cfg: Path) -> subprocess.CompletedProcess[str]:
    args = ("run", REQUIREMENT, "--workdir", "ws", "--config-dir", str(cfg), "--quiet")
    return run_polyteam(*args, cwd=tmp_path, timeout=RUN_TIMEOUT)


def artifacts_of(key: str, output: dict[str, Any]) -> list[str]:
    """The files a completed action (a state.json `done` entry) must have left on disk."""
    action, _, rest = key.partition(":")
    if action == "WritePRD":
        return ["docs/prd.md", "docs/prd.json"]
    if action == "WriteDesign":
        return ["docs/system_design.md", "docs/system_design.json"]
    if action == "WriteTasks":
        return ["docs/tasks.md", "docs/tasks.json", "requirements.txt"]
    if action == "WriteCode":
        return [rest]
    if action == "WriteCodeReview":
        return [f"docs/code_review/{rest.rsplit(':', 1)[0]}.md"]
    raise AssertionError(f"unknown checkpoint key {key!r}")


def read_ledger(project: Path) -> list[dict[str, Any]]:
    text = (project / ".polyteam/ledger.jsonl").read_text()
    assert_no_canary(text, "ledger")
    rows = [json.loads(line) for line in text.splitlines()]
    return [row for row in rows if row.get("event") != "started"]  # attempt lines (started: issue 11)


def check_ledger(fault: Fault, ledger: list[dict[str, Any]], requests: list[dict[str, Any]]) -> None:
    """Failed attempts carry the fault's error kind; each healed call ends with an ok attempt."""
    failed = [row for row in ledger if not row["ok"]]
    hit = [r for r in requests if r["fault"]]
    assert hit, f"the fault {fault.spec!r} never fired"
    if fault.error is None:
        assert not failed, failed
        return
    assert failed and {row["error"] for row in failed} == {fault.error}, failed
    assert {row["action"] for row in failed} == {fault.action}, failed
    assert len(failed) == len(hit), (failed, hit)  # one failed ledger line per faulted request
    calls: dict[str, list[dict[str, Any]]] = {}
    for row in ledger:
        calls.setdefault(row["call_id"], []).append(row)
    for row in failed:
        rows = sorted(calls[row["call_id"]], key=lambda r: r["attempt"])
        later_ok = [r for r in rows if r["ok"] and r["attempt"] > row["attempt"]]
        if fault.heal == "none":
            assert not any(r["ok"] for r in rows), rows
        elif fault.heal == "retry":
            assert [r["llm"] for r in later_ok] == [row["llm"]], rows
        elif fault.heal == "fallback":
            assert [r["llm"] for r in rows] == [row["llm"], "coder-backup"], rows  # auth is never retried
            assert later_ok == rows[1:], rows


def check_done_artifacts(project: Path, state: dict[str, Any]) -> None:
    """Never a lost artifact: every saved action's files are on disk."""
    for key, output in state["done"].items():
        for name in artifacts_of(key, output):
            assert (project / name).is_file(), f"{key} is saved as done but {name} is missing"


def check_complete_project(project: Path, state: dict[str, Any]) -> None:
    tasks = json.loads((project / "docs/tasks.json").read_text())
    files = list(tasks["task_list"])
    assert files
    for name in (
        "docs/prd.md", "docs/prd.json", "docs/system_design.md", "docs/system_design.json",
        "docs/tasks.md", "docs/tasks.json", "README.md", "requirements.txt",
        *files, *(f"docs/code_review/{f}.md" for f in files),
    ):  # fmt: skip
        assert (project / name).is_file(), name
    assert {f"WriteCode:{f}" for f in files} <= set(state["done"])
    for f in files:
        if f.endswith(".py"):
            compile((project / f).read_text(), f, "exec")  # compiled, never run


def check_specifics(name: str, fault: Fault, state: dict[str, Any], ledger: list[dict[str, Any]],
                    requests: list[dict[str, Any]]) -> None:  # fmt: skip
    """What only some faults must show: repairs, fallbacks, the waits the retries took."""
    if fault.heal == "repair":
        faulted = [r for r in requests if r["fault"] == "malformed"]
        assert state["stats"]["repairs"] >= len(faulted) > 0, state["stats"]
    if fault.heal == "fallback":
        assert state["stats"]["fallbacks"] >= 1, state["stats"]
        assert {u["llm"] for k, u in state["usage"].items() if k.startswith("WriteCode:")} == {"coder-backup"}
    if name == "429-retry-after":
        # the retry waited the server's Retry-After (1 s), not the 0.5 s first backoff
        limited = next(i for i, r in enumerate(requests) if r["fault"] == "429")
        retry = next(r for r in requests[limited + 1 :] if r["tag"] == "WritePRD")
        waited = _seconds(retry["ts_start"]) - _seconds(requests[limited]["ts_end"])
        assert waited >= 0.95, (requests[limited], retry)
    if name == "timeout":
        # the MODEL_LIST `timeout: 3` bounded the held attempt (not the 600 s SDK default)
        (held,) = [row for row in ledger if not row["ok"]]
        assert 2.9 <= held["latency_s"] < 10, held


def check_resume(emu: Any, tmp_path: Path, project: Path, state: dict[str, Any]) -> None:
    """With the fault gone, `--resume` finishes the stopped run and asks nothing saved again."""
    emu.set_faults(None)
    before = len(emu.requests)
    result = run_polyteam("run", "--resume", str(project), "--quiet", cwd=tmp_path, timeout=RUN_TIMEOUT)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Traceback" not in output, output
    again = {r["tag"] for r in emu.requests[before:]}
    saved = {":".join(k.split(":")[:2]) for k in state["done"]}  # "WriteCodeReview:a.py:1" -> its tag
    assert again and not again & saved, (again, saved)
    final = json.loads((project / ".polyteam/state.json").read_text())
    assert final["status"] == "done"
    check_complete_project(project, final)


@pytest.mark.parametrize("name", list(FAULTS))
def test_team_run_survives_the_fault(make_emulator: Any, tmp_path: Path, name: str) -> None:
    fault = FAULTS[name]
    emu = make_emulator(
        responder="team", faults=fault.spec, log_path=tmp_path / "emulator.jsonl", **dict(fault.emulator)
    )
    cfg = write_config(tmp_path / "cfg", emu.base_url)
    result = run_team(tmp_path, cfg)
    output = result.stderr + result.stdout
    assert "Traceback" not in output, output
    assert result.returncode == fault.exit, output

    project = project_in(tmp_path / "ws")
    state_text = (project / ".polyteam/state.json").read_text()
    assert_no_canary(state_text, "state.json")
    state = json.loads(state_text)
    assert state["status"] == ("done" if fault.exit == 0 else "failed"), state["status"]
    # an unexpected (non-polyteam) exception leaves its traceback here: none may happen
    assert not (project / ".polyteam/error.log").exists(), (project / ".polyteam/error.log").read_text()
    check_done_artifacts(project, state)
    if fault.exit == 0:
        check_complete_project(project, state)
    else:
        failed = [line for line in result.stderr.splitlines() if line.startswith("polyteam: run failed:")]
        assert len(failed) == 1 and "--resume" in failed[0], result.stderr
        assert "WriteCode:main.py" not in state["done"] and "WriteTasks" in state["done"]

    requests = list(emu.requests)
    assert_no_canary((tmp_path / "emulator.jsonl").read_text(), "emulator log")
    ledger = read_ledger(project)
    check_ledger(fault, ledger, requests)
    check_specifics(name, fault, state, ledger, requests)
    if fault.exit != 0:
        check_resume(emu, tmp_path, project, state)


def _seconds(ts: Any) -> float:
    if isinstance(ts, int | float):
        return float(ts)
    from datetime import datetime

    return datetime.fromisoformat(str(ts)).timestamp()
