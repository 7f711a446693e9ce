"""The run log and the call capture (issue 16 item 2) as `polyteam` subprocesses against the emulator.

`polyteam -v run` logs one line per attempt (matching the ledger line for line), one per retry
decision and one per fallback; POLYTEAM_LOG=info does the same without the flag; without either
nothing is logged. `--capture` leaves one redacted JSON file per attempt in .polyteam/calls/.
The ledger lines carry the provider's request id and finish reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from _support import REQUIREMENT, project_in, run_polyteam, write_team_config

import canary
from canary import assert_no_canary

ATTEMPT = re.compile(r"^polyteam [\d:.]+ attempt (\d+) (\w+)/(\S+) -> (\S+) \[(\w+) (\S+)\]")


def _config(tmp_path: Path, base_url: str) -> Path:
    model_list = f"""MODEL_LIST:
  coder-7b:
    open_llm_api_base: "{base_url}/coder/v1"
    api_key: "{canary.OPEN_LLM_API_KEY}"
    fallback: [coder-backup]
  coder-backup:
    open_llm_api_base: "{base_url}/backup/v1"
    api_key: "{canary.OPEN_LLM_API_KEY}"
    model: coder-backup-3b
"""
    return write_team_config(tmp_path / "cfg", base_url, model_list=model_list)


def _ledger(project: Path) -> list[dict[str, Any]]:
    """The ledger's attempt lines (an "event" line, such as a started marker, is not an attempt)."""
    lines = (project / ".polyteam/ledger.jsonl").read_text().splitlines()
    return [row for row in map(json.loads, lines) if "event" not in row]


def _run(tmp_path: Path, cfg: Path, *flags: str, env: dict[str, str] | None = None) -> Any:
    tmp_path.mkdir(parents=True, exist_ok=True)
    pre = [f for f in flags if f == "-v"]
    post = [f for f in flags if f != "-v"]
    args = (*pre, "run", REQUIREMENT, "--workdir", "ws", "--config-dir", str(cfg), "--quiet", *post)
    done = run_polyteam(*args, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    return done


def test_verbose_logs_every_attempt_retry_and_fallback_and_capture_keeps_each_call(
    make_emulator: Any, tmp_path: Path
) -> None:
    # main.py: a 500 then an answer (a retry); models.py: coder-7b refuses the key (a fallback)
    emu = make_emulator(responder="team", faults="500@WriteCode:main.py,auth:*@coder-7b")
    done = _run(tmp_path, _config(tmp_path, emu.base_url), "-v", "--capture")
    project = project_in(tmp_path / "ws")
    ledger = _ledger(project)

    attempts = [m.groups() for line in done.stderr.splitlines() if (m := ATTEMPT.match(line))]
    assert len(attempts) == len(ledger)
    logged = sorted((role, llm, provider, model, n) for n, role, _key, llm, provider, model in attempts)
    assert logged == sorted(
        (r["role"], r["llm"], r["provider"], r["model"], str(r["attempt"])) for r in ledger
    )
    assert {r["provider"] for r in ledger} == {"openai", "claude", "spark", "zhipu", "open_llm"}
    stderr = done.stderr
    # main.py: a 500 on coder-7b, retried; then coder-7b's auth error, so coder-backup answers
    assert re.search(r"attempt 1 Engineer/WriteCode:main\.py -> coder-7b .*: failed server_error", stderr)
    assert "retry: coder-7b [coder-7b] again in " in stderr
    assert re.search(
        r"attempt 2 Engineer/WriteCode:main\.py -> coder-7b .*\(retry after coder-7b server_error\)", stderr
    )
    assert re.search(r"\(fallback after coder-7b auth\): ok", stderr)
    assert re.search(r"done Engineer/WriteCode:\S+ by coder-backup", stderr)
    # the request id of every attempt the server answered is in its ledger line and its log line, a
    # failed one's too (from the error reply's request-id header: what the provider's support asks for)
    for row in ledger:
        assert row["request_id"], row
        assert f"id={row['request_id']}" in stderr
        if row["ok"]:
            assert row["finish_reason"], row
    assert not any(r["ok"] for r in ledger if r["error"])

    calls = sorted((project / ".polyteam" / "calls").iterdir())
    assert len(calls) == len(ledger)
    by_attempt = {(r["call_id"], r["attempt"]): r for r in ledger}
    for path in calls:
        text = path.read_text()
        assert_no_canary(text, f"captured call {path.name}")
        call = json.loads(text)
        row = by_attempt[(call["call_id"], call["attempt"])]
        assert (call["llm"], call["model"], call["ok"]) == (row["llm"], row["model"], row["ok"])
        assert call["messages"] and all(m["content"] for m in call["messages"])
        assert (call["reply"] is not None) == row["ok"]
        assert call["key"].split(":")[0] == row["action"]
    prd = json.loads(next(p for p in calls if "-WritePRD-" in p.name).read_text())
    assert REQUIREMENT in prd["messages"][-1]["content"]
    assert prd["reply"] and prd["request_id"]


def test_verbose_after_the_command_name_logs_the_same(make_emulator: Any, tmp_path: Path) -> None:
    # users write `polyteam run "..." -v` as often as `polyteam -v run "..."`
    emu = make_emulator(responder="team")
    cfg = _config(tmp_path, emu.base_url)
    args = ("run", REQUIREMENT, "--workdir", "ws", "--config-dir", str(cfg), "--quiet", "-v")
    done = run_polyteam(*args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    attempts = [line for line in done.stderr.splitlines() if ATTEMPT.match(line)]
    assert len(attempts) == len(_ledger(project_in(tmp_path / "ws"))) > 0
    asked = run_polyteam("ask", "hello", "--config-dir", str(cfg), "--verbose", cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert any(ATTEMPT.match(line) for line in asked.stderr.splitlines())


def test_polyteam_log_env_turns_the_log_on_and_nothing_logs_without_it(
    make_emulator: Any, tmp_path: Path
) -> None:
    emu = make_emulator(responder="team")
    cfg = _config(tmp_path, emu.base_url)
    quiet = _run(tmp_path / "a", cfg)
    assert "attempt 1" not in quiet.stderr and "polyteam " not in quiet.stderr
    assert not (project_in(tmp_path / "a" / "ws") / ".polyteam" / "calls").exists()

    logged = _run(tmp_path / "b", cfg, env={"POLYTEAM_LOG": "info"})
    project = project_in(tmp_path / "b" / "ws")
    attempts = [line for line in logged.stderr.splitlines() if ATTEMPT.match(line)]
    assert len(attempts) == len(_ledger(project))
    assert "captured" not in logged.stderr  # debug lines only at debug
