"""Bad input a user can give: one line naming the option and the fix, exit 2, never a traceback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from _support import run_polyteam

LEDGER_LINE = {
    "ts": "2026-01-01T00:00:00.000Z", "role": "ProductManager", "action": "WritePRD", "llm": "openai",
    "provider": "openai", "model": "gpt-4o-mini", "base_url": "http://x/v1", "attempt": 1, "ok": True,
    "error": None, "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.001, "latency_s": 0.1,
}  # fmt: skip


def one_line_exit_2(*args: str, cwd: Path) -> str:
    result = run_polyteam(*args, cwd=cwd, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr


def test_emulate_on_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = one_line_exit_2("emulate", "--port", str(port), cwd=tmp_path)
    assert "--port" in err and "another --port" in err


@pytest.mark.parametrize("target", ["folder", "missing", "unwritable"])
def test_report_html_to_a_bad_path(tmp_path: Path, target: str) -> None:
    project = tmp_path / "p"
    (project / ".polyteam").mkdir(parents=True)
    (project / ".polyteam" / "ledger.jsonl").write_text(json.dumps(LEDGER_LINE) + "\n")
    path = {
        "folder": tmp_path,
        "missing": tmp_path / "nonexistent" / "dir" / "x.html",
        "unwritable": Path("/proc/polyteam-report.html"),  # not writable even for root
    }[target]
    err = one_line_exit_2("report", str(project), "--html", str(path), cwd=tmp_path)
    assert "--html" in err
    assert not (tmp_path / "nonexistent").exists()  # the folder is never created


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("ask", "hi", "--role", "Foo"), "--role"),
        (("ask", "hi", "--action", "WriteFoo"), "did you mean"),
        (("run", "x", "--review-k", "11"), "--review-k"),
        (("run", "--resume", "."), "--resume"),
    ],
)
def test_bad_flags(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    assert expected in one_line_exit_2(*args, cwd=tmp_path)


def test_code_review_k_is_bounded(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.yaml").write_text('OPENAI_API_KEY: "sk-x"\nCODE_REVIEW_K: 1000\n')
    err = one_line_exit_2("run", "x", "--config-dir", str(cfg), cwd=tmp_path)
    assert "CODE_REVIEW_K" in err
