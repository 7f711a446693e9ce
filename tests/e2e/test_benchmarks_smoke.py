"""Each benchmark script runs once in a tiny configuration, so the scripts cannot rot (issue 7).

Runs them as a user does (`python benchmarks/<script>.py ...`, a subprocess) and asserts exit 0 and
that the table each one prints is there, with the figures it must report. Never judges speed: CI
machines differ and are shared.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
TIMEOUT = 300


def run_script(name: str, *args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(BENCH / name), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "COLUMNS": "200", "TMPDIR": str(tmp_path)},  # their projects and logs land here
    )
    assert proc.returncode == 0, (
        f"{name} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def table_rows(text: str, first_cell: str) -> list[list[str]]:
    """The rows of a `| a | b |` table whose first cell is `first_cell`."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and cells[0] == first_cell:
            rows.append(cells)
    return rows


def test_pipeline_tiny(tmp_path: Path) -> None:
    out = run_script(
        "pipeline.py", "--latency-ms", "0", "--files", "2", "--json", "r.json", tmp_path=tmp_path
    ).stdout
    assert re.search(r"\| L ms \| N \| mode .*\| wall/bound .*\| 1st req s .*\| peak RSS MB", out), out
    row = table_rows(out, "0")
    assert row and row[0][1] == "2" and row[0][2] == "concurrent", out
    # 2 files: PRD, design, tasks, 2 x (WriteCode + one review) = 7 calls; the chain is 6 of them
    assert row[0][3] == "7" and row[0][4] == "6", out
    assert "WriteCode per file, N=2" in out and "#written before" in out, out
    assert "total prompt tokens, 4-file project" not in out  # only judged for N=4
    assert (tmp_path / "r.json").is_file()


def test_pipeline_sequential_tiny(tmp_path: Path) -> None:
    out = run_script(
        "pipeline.py", "--latency-ms", "0", "--files", "2", "--sequential", tmp_path=tmp_path
    ).stdout
    row = table_rows(out, "0")
    assert row and row[0][2] == "sequential", out
    assert row[0][-2] == "1", out  # max in flight: max_concurrency 1 held, calls one after another


def test_scale_tiny(tmp_path: Path) -> None:
    out = run_script("scale.py", "--runs", "2", "--latency-ms", "0", tmp_path=tmp_path).stdout
    assert re.search(
        r"\| M \| requests \| wall s \(all M\) .*\| peak RSS MB .*\| RSS growth per run MB", out
    ), out
    assert table_rows(out, "2"), out
    assert re.search(r"per-endpoint limit under load: M=2, .* -> held", out), out


def test_overhead_tiny(tmp_path: Path) -> None:
    out = run_script("overhead.py", "--calls", "5", "--warmup", "1", tmp_path=tmp_path).stdout
    assert "median ms" in out and "polyteam gateway" in out and "raw openai SDK" in out, out


@pytest.mark.parametrize("runs", ["1"])
def test_startup_tiny(tmp_path: Path, runs: str) -> None:
    out = run_script("startup.py", "--runs", runs, tmp_path=tmp_path).stdout
    assert "median s" in out and "polyteam --help" in out, out
