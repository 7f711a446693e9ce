"""The command line's conventions (issue 16 item 3) as subprocesses: --version, `python -m polyteam`,
shell completion installed into a temporary HOME and answering a completion request, `check --json`
(good, bad and pinged configurations) and `run --json` against the emulator's team responder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from _support import BASE_ENV, REQUIREMENT, project_in, run_polyteam, write_team_config

from canary import assert_no_canary

ROOT = Path(__file__).resolve().parents[2]


def test_version_prints_the_package_version() -> None:
    from polyteam import __version__

    done = run_polyteam("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"polyteam {__version__}"


def test_python_dash_m_polyteam_is_the_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "polyteam", "--help"], capture_output=True, text=True, timeout=60,
        env={**os.environ, **BASE_ENV},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: polyteam ")
    for command in ("run", "routes", "check", "ask", "report", "emulate"):
        assert f"  {command} " in done.stdout
    assert "--version" in done.stdout and "--verbose" in done.stdout


def test_completion_installs_into_home_and_completes_commands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, **BASE_ENV, "HOME": str(home), "SHELL": "/bin/bash"}
    # bash stays the parent process (no exec), so typer's shell detection finds it as a user's shell would
    install = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m polyteam --install-completion; status=$?; exit $status"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr + install.stdout
    script = home / ".bash_completions" / "polyteam.sh"
    assert script.is_file(), install.stdout
    assert f"source '{script}'" in (home / ".bashrc").read_text()
    text = script.read_text()
    assert "_POLYTEAM_COMPLETE" in text and "complete " in text and "polyteam" in text
    # the installed script's protocol: the program answers a completion request for "polyteam ro"
    answer = subprocess.run(
        [sys.executable, "-m", "polyteam"], capture_output=True, text=True, timeout=60,
        env={**env, "_POLYTEAM_COMPLETE": "complete_bash", "COMP_WORDS": "polyteam ro", "COMP_CWORD": "1"},
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.split() == ["routes"]


def test_check_json_lists_endpoints_and_pings_them(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator()
    cfg = write_team_config(tmp_path / "cfg", emu.base_url)
    done = run_polyteam("check", "--json", "--config-dir", str(cfg))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is True and document["issues"] == []
    providers = {e["provider"] for e in document["endpoints"]}
    assert providers == {"openai", "claude", "spark", "zhipu", "open_llm"}
    assert emu.requests == []  # without --ping nothing is sent

    pinged = run_polyteam("check", "--json", "--ping", "--config-dir", str(cfg))
    assert pinged.returncode == 0, pinged.stderr
    document = json.loads(pinged.stdout)
    assert document["ok"] is True
    assert len(document["endpoints"]) == 5
    for endpoint in document["endpoints"]:
        assert endpoint["ok"] is True and endpoint["latency_s"] >= 0 and endpoint["detail"]
        assert set(endpoint) == {"llm", "provider", "model", "base_url", "ok", "latency_s", "detail"}


def test_check_json_bad_configuration_is_a_document_and_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.yaml").write_text('OPENAI_API_KEY: "sk-x"\nMAX_BUDGET: lots\n')
    (cfg / "multi_llm_config.yaml").write_text("ProductManager: openai\nWritePDR: openai\n")
    done = run_polyteam("check", "--json", "--config-dir", str(cfg))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is False
    keys = {issue["key"] for issue in document["issues"]}
    assert {"MAX_BUDGET", "WritePDR"} <= keys
    for issue in document["issues"]:
        assert set(issue) == {"file", "key", "problem", "fix"} and issue["file"]


def test_check_json_ping_failure_exits_1(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(faults="auth:*@openai")
    cfg = write_team_config(tmp_path / "cfg", emu.base_url)
    done = run_polyteam("check", "--json", "--ping", "--config-dir", str(cfg))
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["ok"] is False
    failed = {e["provider"] for e in document["endpoints"] if not e["ok"]}
    assert "openai" in failed and "claude" not in failed


def test_run_json_prints_only_the_summary_document(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(responder="team")
    cfg = write_team_config(tmp_path / "cfg", emu.base_url)
    done = run_polyteam(
        "run", REQUIREMENT, "--json", "--workdir", "ws", "--config-dir", str(cfg), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr + done.stdout
    document = json.loads(done.stdout)  # stdout is the document alone: no display lines around it
    project = project_in(tmp_path / "ws")
    assert document["project"] == str(project)
    assert document["status"] == "done" and document["ok"] is True and document["error"] is None
    assert set(document["calls_by_llm"]) == {"openai", "claude", "spark", "zhipu", "coder-7b"}
    assert sum(document["calls_by_llm"].values()) == len(emu.requests)
    assert document["report"]["totals"]["calls"] == len(emu.requests)
    assert "README.md" in document["written"]
    assert_no_canary(done.stdout, "run --json")


def test_run_json_failure_keeps_exit_status_and_document(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator(responder="team", faults="auth:*@openai")
    cfg = write_team_config(tmp_path / "cfg", emu.base_url)
    done = run_polyteam(
        "run", REQUIREMENT, "--json", "--workdir", "ws", "--config-dir", str(cfg), cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr + done.stdout
    document = json.loads(done.stdout)
    assert document["status"] == "failed" and document["ok"] is False and document["error"]
    assert "--resume" in done.stderr


def test_bad_polyteam_log_level_is_one_line_exit_2() -> None:
    done = run_polyteam("check", env={"POLYTEAM_LOG": "loud"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "POLYTEAM_LOG: loud: is not a log level; use one of debug, info, warning, error"
    ]
