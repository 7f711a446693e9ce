"""Shared helpers of the benchmark scripts: the emulator config, child processes, logs, the machine.

Owns: writing a throw-away config folder that routes every Role/Action to the emulator; running a
child process and reading its own peak RSS (`os.wait4`, so only that process is counted, never
the benchmark or the emulator); reading the emulator's request log and a project's ledger; the
critical-path bound of a run from its own `docs/tasks.json`; printing aligned tables; describing
the machine. Nothing here judges a figure: each script compares with its targets.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the model name the runs ask for; the emulator answers any name the same way
MODEL = "gpt-4o-mini"
#: the MODEL_LIST entry every route goes to (DEFAULT_LLM), so the normal and the sequential runs
#: take exactly the same code path and differ only by `max_concurrency`
LLM_NAME = "emu"
FAKE_KEY = "sk-bench-not-a-real-key"

#: environment variables the config reads (DESIGN §2): dropped from a child's environment so that the
#: benchmark's config folder alone decides where requests go
_CONFIG_ENV_PREFIXES = ("OPENAI_", "ANTHROPIC_", "Anthropic_", "SPARK_", "ZHIPUAI_", "OPEN_LLM_", "POLYTEAM_")
_CONFIG_ENV_NAMES = ("DOMAIN", "MAX_BUDGET")


def write_config(
    folder: Path,
    base_url: str,
    *,
    max_concurrency: int | None = None,
    limited_action: str | None = None,
    limit: int | None = None,
) -> Path:
    """A config folder that sends every call to the emulator at `base_url` (no real key anywhere).

    `max_concurrency` caps the one endpoint every route uses (1 = calls strictly one after another).
    `limited_action` routes that Action to a second endpoint on the same emulator (path prefix
    `/limited`, so its requests are told apart in the log by path) capped at `limit`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(
        f'OPENAI_API_KEY: "{FAKE_KEY}"\nOPENAI_API_BASE: "{base_url}/v1"\nOPENAI_API_MODEL: "{MODEL}"\n',
        encoding="utf-8",
    )
    lines = [f"DEFAULT_LLM: {LLM_NAME}"]
    if limited_action:
        lines.append(f"{limited_action}: limited")
    lines.append("MODEL_LIST:")
    lines += _entry(LLM_NAME, f"{base_url}/v1", max_concurrency)
    if limited_action:
        lines += _entry("limited", f"{base_url}/limited/v1", limit)
    (folder / "multi_llm_config.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _entry(name: str, base: str, max_concurrency: int | None) -> list[str]:
    lines = [
        f"  {name}:",
        "    api_type: openai",
        f'    open_llm_api_base: "{base}"',
        f'    api_key: "{FAKE_KEY}"',
        f"    model: {MODEL}",
    ]
    if max_concurrency:
        lines.append(f"    max_concurrency: {max_concurrency}")
    return lines


def team_responder(n_files: int) -> Any:
    """The emulator's team responder for N files: by name (`team:N`), or built directly when the
    emulator's registry does not know the `team:N` form."""
    from polyteam.emulator import resolve_responder

    try:
        resolve_responder(f"team:{n_files}")
    except ValueError:
        from polyteam.emulator.team_responder import make_team_responder

        return make_team_responder(f"team:{n_files}")
    return f"team:{n_files}"


def child_env(**extra: str) -> dict[str, str]:
    """The current environment without any provider setting (the config folder decides), plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_CONFIG_ENV_PREFIXES) and k not in _CONFIG_ENV_NAMES
    }
    # as an installed package runs: with its bytecode cached (pip compiles it at install time). This
    # machine sets PYTHONDONTWRITEBYTECODE=1, which makes every child compile polyteam's ~60 modules
    # from source again (~60-90 ms of CPU before the first request); BENCH_NO_BYTECODE=1 keeps it.
    if not os.environ.get("BENCH_NO_BYTECODE"):
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra)
    env.setdefault("COLUMNS", "200")
    return env


@dataclass
class ChildResult:
    """A finished child process: exit status, wall time, its own peak RSS, and where its output went."""

    returncode: int
    started_at: float  # time.time() just before the fork (compare with the emulator log's ts_start)
    wall_s: float
    cpu_s: float  # user + system CPU time of that process
    peak_rss_mb: float
    stdout: str
    stderr: str


def run_child(argv: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float = 600.0) -> ChildResult:
    """Run `argv` and measure it: wall time from just before the fork to its exit, and the CPU time
    and peak RSS of that process alone (`ru_*` from `os.wait4` on its pid; `ru_maxrss` is in KiB).

    Raises:
        TimeoutError: the child ran longer than `timeout` (it is killed first).
    """
    out_path = cwd / f".child-{os.getpid()}-{time.monotonic_ns()}.out"
    err_path = out_path.with_suffix(".err")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started_at = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL
        )
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # blocks: no polling to disturb the measurement
        finally:
            killer.cancel()
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    if wall >= timeout:
        raise TimeoutError(f"{' '.join(argv[:4])} ... ran longer than {timeout:.0f}s and was killed")
    result = ChildResult(
        returncode=proc.returncode,
        started_at=started_at,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
    )
    out_path.unlink()
    err_path.unlink()
    return result


def polyteam_argv(*args: str) -> list[str]:
    """The real CLI, as a user runs it (`python -m polyteam.cli` = the `polyteam` script's entry point)."""
    return [sys.executable, "-m", "polyteam.cli", *args]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def find_project(workdir: Path) -> Path:
    """The one project folder a run made under `workdir` (the folder holding `.polyteam/state.json`).

    Raises:
        FileNotFoundError: the run made none.
    """
    found = sorted(p.parent.parent for p in workdir.glob("*/.polyteam/state.json"))
    if not found:
        raise FileNotFoundError(f"no project with .polyteam/state.json under {workdir}")
    return found[0]


def tag_action(tag: str | None) -> str:
    return (tag or "?").split(":", 1)[0]


def tag_file(tag: str | None) -> str:
    parts = (tag or "").split(":")
    return parts[1] if len(parts) > 1 else ""


@dataclass
class Graph:
    """The file dependency graph a run planned (from its docs/tasks.json)."""

    files: list[str]
    deps: dict[str, list[str]]


def load_graph(project: Path) -> Graph:
    """`task_list` and `logic_analysis[].depends_on` of the run's own docs/tasks.json."""
    data = json.loads((project / "docs" / "tasks.json").read_text(encoding="utf-8"))
    deps: dict[str, list[str]] = {}
    for item in data.get("logic_analysis") or []:
        deps.setdefault(_norm(item["file"]), []).extend(_norm(d) for d in item.get("depends_on") or [])
    files = list(dict.fromkeys([_norm(f) for f in data.get("task_list") or []] + list(deps)))
    known = set(files)
    return Graph(files=files, deps={f: [d for d in deps.get(f, []) if d in known and d != f] for f in files})


def _norm(name: str) -> str:
    name = name.strip().replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


@dataclass
class CriticalPath:
    """The LLM calls on the longest dependency chain, and its steps in order
    (e.g. WritePRD, WriteDesign, WriteTasks, WriteCode:a.py, WriteCode:main.py, WriteCodeReview:main.py)."""

    calls: int
    chain: list[str]


def critical_path(graph: Graph, calls_by_tag: dict[str, int]) -> CriticalPath:
    """The chain of dependent calls that no scheduler can shorten.

    PRD -> design -> tasks -> the longest chain of WriteCode through `depends_on` -> the review
    rounds of that chain's last file (a dependent file waits for its dependency's WriteCode, not its
    review). Each step weighs the number of requests the run actually made for it (a re-ask is a
    second call on the same step), at least 1.
    """

    def weight(tag: str) -> int:
        return calls_by_tag.get(tag, 0)

    head = ["WritePRD", "WriteDesign", "WriteTasks"]
    head_calls = sum(max(1, weight(t)) for t in head)
    best: dict[str, tuple[int, list[str]]] = {}  # file -> (calls through its WriteCode, chain)

    def through(f: str, seen: tuple[str, ...] = ()) -> tuple[int, list[str]]:
        if f in best:
            return best[f]
        below = [through(d, (*seen, f)) for d in graph.deps.get(f, []) if d not in seen]
        calls, chain = max(below, key=lambda b: b[0], default=(0, []))
        best[f] = (calls + max(1, weight(f"WriteCode:{f}")), [*chain, f"WriteCode:{f}"])
        return best[f]

    tail_calls, tail = 0, []
    for f in graph.files:
        calls, chain = through(f)
        reviews = weight(f"WriteCodeReview:{f}")
        if calls + reviews > tail_calls:
            tail_calls = calls + reviews
            tail = chain + ([f"WriteCodeReview:{f}"] * reviews)
    return CriticalPath(calls=head_calls + tail_calls, chain=head + tail)


def calls_by_tag(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Requests per tag, with a review's round number dropped ("WriteCodeReview:a.py:2" -> "...:a.py")."""
    counts: dict[str, int] = {}
    for rec in records:
        parts = (rec.get("tag") or "?").split(":")
        tag = ":".join(parts[:2])
        counts[tag] = counts.get(tag, 0) + 1
    return counts


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain aligned text table (also valid Markdown: pipes and a header rule)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(row)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, bool):
        return "met" if value else "NOT met"
    return str(value)


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "NOT met")


def machine() -> str:
    """One line: cores, CPU model, RAM, Python, OS, date."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), RAM {ram}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )
