"""`polyteam run` against a hostile server of our own: nothing lost, nothing leaked, no traceback.

Each test drives real `polyteam` subprocesses over 127.0.0.1 against `_server.HostileServer`
scripted by `_scenario.Scenario`: colliding and unsafe file names, the caller's key echoed in
every reply, escape sequences, a previous project's name, failures, concurrent runs, user edits.
"""

from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _scenario import HOSTILE_FILES, RESERVED_FILES, Scenario, write_config
from _support import project_in, run_polyteam

from canary import assert_no_canary

REQ = "Write a hostile test app"


def polyteam(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`run_polyteam` (no hang, no canary in stdout/stderr), and never a raw ESC or a traceback."""
    result = run_polyteam(*args, cwd=cwd)
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        assert "\x1b" not in text, f"raw ESC byte on {name}: {text[-800:]!r}"
        assert "\x9b" not in text and "\u202e" not in text, f"raw C1 CSI or bidi override on {name}"
        assert "Traceback" not in text, text[-2000:]
    return result


def assert_no_canary_in_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            assert_no_canary(path.read_bytes(), str(path.relative_to(root)))


def assert_no_canary_onward(server: Any) -> None:
    """No prompt polyteam sent carries the key (the key is echoed in every reply it got)."""
    assert server.requests
    for req in server.requests:
        assert_no_canary(json.dumps(req.body), f"the {req.action} prompt")


def test_a_task_list_naming_polyteams_docs_never_replaces_them(hostile: Any, tmp_path: Path) -> None:
    server = hostile(Scenario(files=RESERVED_FILES))
    cfg = write_config(tmp_path / "cfg", server.base_url)
    result = polyteam("run", REQ, "--workdir", "ws", "--config-dir", str(cfg), cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    project = project_in(tmp_path / "ws")
    assert project.name == "write_a_hostile_test_app"  # the requirement's name, not the PRD's
    prd = json.loads((project / "docs/prd.json").read_text())
    assert prd["project_name"] == "hostile_app" and "API_KEY" not in (project / "docs/prd.md").read_text()
    assert (project / "docs/requirement.txt").read_text() == REQ + "\n"
    assert "task_list" in json.loads((project / "docs/tasks.json").read_text())
    assert "file_list" in json.loads((project / "docs/system_design.json").read_text())
    assert (
        "API_KEY"
        not in (project / "docs/tasks.md").read_text() + (project / "docs/system_design.md").read_text()
    )
    for name in RESERVED_FILES[:-1]:
        assert f"skipped '{name}': reserved for polyteam" in result.stdout, result.stdout
    assert (project / "main.py").is_file()
    review = (project / "docs/code_review/main.py.md").read_text()
    assert [line for line in review.splitlines() if line.startswith("# ")] == ["# Code review: `main.py`"]
    assert_no_canary_in_tree(project)
    assert_no_canary_onward(server)


def test_unsafe_and_colliding_names_are_never_written_and_the_run_finishes(
    hostile: Any, tmp_path: Path
) -> None:
    server = hostile(Scenario(files=HOSTILE_FILES))
    cfg = write_config(tmp_path / "cfg", server.base_url)
    result = polyteam("run", REQ, "--workdir", "ws", "--config-dir", str(cfg), cwd=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    project = project_in(tmp_path / "ws")
    written = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    assert not any(ord(c) < 32 or c in "\u202e\u200b\x7f" for name in written for c in name), written
    assert not (tmp_path / "ws" / "x.py").exists() and (project / "main.py").is_file()
    assert "task_list" in json.loads((project / "docs/tasks.json").read_text())
    assert (project / "docs/requirement.txt").read_text() == REQ + "\n"
    assert_no_canary_in_tree(project)
    assert_no_canary_onward(server)


def test_ten_colliding_runs_all_finish_and_a_failed_one_resumes(hostile: Any, tmp_path: Path) -> None:
    scenario = Scenario(files=HOSTILE_FILES, fail={("WriteCode", "main.py"): 400})
    server = hostile(scenario)
    cfg = write_config(tmp_path / "cfg", server.base_url)
    args = ("run", REQ, "--workdir", "ws", "--config-dir", str(cfg), "--review-k", "0")
    failed = polyteam(*args, cwd=tmp_path)
    assert failed.returncode == 1 and "continue with: polyteam run --resume" in failed.stderr
    project = project_in(tmp_path / "ws")
    scenario.fail.clear()
    resumed = polyteam("run", "--resume", str(project), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert (project / "main.py").is_file() and not (project / "collide").is_file()
    again = polyteam("run", "--resume", str(project), cwd=tmp_path)
    assert again.returncode == 0 and "already done" in again.stdout
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: polyteam(*args, cwd=tmp_path), range(9)))
    assert [r.returncode for r in results] == [0] * 9, [r.stderr[-500:] for r in results if r.returncode]
    assert len(list((tmp_path / "ws").iterdir())) == 10


def test_twenty_concurrent_runs_in_one_workdir_all_finish(hostile: Any, tmp_path: Path) -> None:
    server = hostile(Scenario())
    cfg = write_config(tmp_path / "cfg", server.base_url)
    args = ("run", REQ, "--workdir", "ws", "--config-dir", str(cfg), "--review-k", "0", "--quiet")
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: polyteam(*args, cwd=tmp_path), range(20)))
    assert [r.returncode for r in results] == [0] * 20, [r.stderr[-500:] for r in results if r.returncode]
    folders = sorted(p.name for p in (tmp_path / "ws").iterdir())
    assert len(folders) == 20 and len(set(folders)) == 20
    assert all((tmp_path / "ws" / f / "main.py").is_file() for f in folders)


def test_overwrite_never_deletes_another_project_whatever_the_model_names(
    hostile: Any, tmp_path: Path
) -> None:
    scenario = Scenario()
    server = hostile(scenario)
    cfg = write_config(tmp_path / "cfg", server.base_url)
    first = polyteam("run", "Write a todo app", "--workdir", "ws", "--config-dir", str(cfg), cwd=tmp_path)
    assert first.returncode == 0
    earlier = tmp_path / "ws" / "write_a_todo_app"
    (earlier / "mine.txt").write_text("the user's file")
    scenario.project_name = "write_a_todo_app"  # the model names the new project after the earlier one
    for requirement in ("Write a chess engine", "write_a_todo_app"):
        run = ("run", requirement, "--workdir", "ws", "--config-dir", str(cfg), "--overwrite")
        assert polyteam(*run, cwd=tmp_path).returncode == 0
    assert (earlier / "mine.txt").read_text() == "the user's file"
    assert sorted(p.name for p in (tmp_path / "ws").iterdir()) == [
        "write_a_chess_engine", "write_a_todo_app", "write_a_todo_app-2",
    ]  # fmt: skip
    # --overwrite replaces the folder this run is for: an earlier run of the same requirement
    again = polyteam(
        "run", "Write a todo app", "--workdir", "ws", "--config-dir", str(cfg), "--overwrite", cwd=tmp_path
    )
    assert again.returncode == 0 and not (earlier / "mine.txt").exists() and (earlier / "main.py").is_file()


def test_a_users_edit_survives_resume_and_redo(hostile: Any, tmp_path: Path) -> None:
    scenario = Scenario(files=["util.py", "lib.py", "main.py"], fail={("WriteCode", "main.py"): 400})
    server = hostile(scenario)
    cfg = write_config(tmp_path / "cfg", server.base_url)
    args = ("run", REQ, "--workdir", "ws", "--config-dir", str(cfg), "--review-k", "0")
    assert polyteam(*args, cwd=tmp_path).returncode == 1
    project = project_in(tmp_path / "ws")
    (project / "util.py").write_text("# my edit\n")
    (project / "docs/prd.md").write_text("# my PRD\n")
    scenario.fail.clear()
    resumed = polyteam("run", "--resume", str(project), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    assert (project / "util.py").read_text() == "# my edit\n"
    assert (project / "docs/prd.md").read_text() == "# my PRD\n"
    assert "NAME = 'util.py'" in (project / "util.py.polyteam-new").read_text()
    assert "kept 'util.py'" in resumed.stdout and "util.py.polyteam-new" in resumed.stdout
    assert "this session" in resumed.stdout and "in all" in resumed.stdout
    # the calls line and the report's total agree after a failure and a resume (both from the ledger)
    per_llm = re.search(r"calls per LLM \(all sessions\): openai (\d+) calls, 1 failed", resumed.stdout)
    total = re.search(r"for (\d+) LLM calls", resumed.stdout)
    assert per_llm and total and per_llm.group(1) == total.group(1), resumed.stdout
    (project / "lib.py").write_text("# edited after the run\n")
    calls = len(server.requests)
    done = polyteam("run", "--resume", str(project), cwd=tmp_path)
    assert done.returncode == 0 and "already done" in done.stdout and len(server.requests) == calls
    assert not (project / "lib.py.polyteam-new").exists()
    redo = polyteam("run", "--resume", str(project), "--redo", cwd=tmp_path)
    assert redo.returncode == 0 and len(server.requests) == calls  # replayed, nothing requested
    assert (project / "lib.py").read_text() == "# edited after the run\n"
    assert (project / "lib.py.polyteam-new").is_file() and (project / "main.py").is_file()


def test_ask_never_prints_an_echoed_key_or_a_raw_escape(hostile: Any, tmp_path: Path) -> None:
    server = hostile(Scenario())
    cfg = write_config(tmp_path / "cfg", server.base_url)
    doc = json.loads(polyteam("ask", "hi", "--json", "--config-dir", str(cfg), cwd=tmp_path).stdout)
    assert doc["text"].startswith("your key is *** ") and doc["text"].endswith(" done")
    plain = polyteam("ask", "hi", "--config-dir", str(cfg), cwd=tmp_path)
    assert plain.returncode == 0 and "\\x1b]0;pwned" in plain.stdout  # shown, not obeyed
