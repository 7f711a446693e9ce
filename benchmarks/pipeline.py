"""A full `polyteam run` against the emulator: wall time vs the critical path, tokens, start-up, memory.

    python benchmarks/pipeline.py --latency-ms 500 --files 4 [--sequential] [--review-k 1]
    python benchmarks/pipeline.py --latency-ms 500 --files 4,12     # both projects in one run
    python benchmarks/pipeline.py --matrix            # L in {0, 500} x N in {4, 12} + sequential baseline
    python benchmarks/pipeline.py --matrix --json results.json

Each run is the real CLI in a child process (`python -m polyteam.cli run ...`) with a throw-away
config folder routing every Role/Action to one in-process emulator (`responder="team:N"`, every
request answered after L ms). From the run itself it reports: wall time (fork to exit), the
critical-path bound (calls on the longest dependency chain of the run's own docs/tasks.json x L),
their ratio, calls, prompt/completion tokens (the project's ledger), time to first request (the
emulator log's first ts_start minus the fork time), and the child's own peak RSS (`os.wait4`).

`--sequential` is the concurrency-off baseline: the one endpoint every route uses gets
`max_concurrency: 1` in the config, so polyteam's own gateway sends calls strictly one after another
(the team still schedules as usual; nothing is queued inside the emulator).

Token economy (issue 7, item 2): for every WriteCode call, the file's number of dependencies, the
number of files already written when it was asked, its prompt tokens and how many of them are the
dependencies' code: prompts must grow with the dependencies only, never with the files before.
Token counts are the emulator's estimate (about 4 characters per token), the same for every call.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

REQUIREMENT = "Write a cli snake game"
TARGET_RATIO = 1.15  # wall <= 1.15 x critical-path bound, at L = 500 ms
TARGET_FIRST_S = 0.5
TARGET_RSS_MB = 120.0
REFERENCE_PROMPT_TOKENS = 19_227  # the peer, 4 files, review on (issue 7)
TARGET_PROMPT_TOKENS = REFERENCE_PROMPT_TOKENS // 2
REFERENCE = {  # the peer's figures for the 4-file project at L = 500 ms (issue 7)
    "calls": 11,
    "prompt_tokens": 19_227,
    "completion_tokens": 3_327,
    "first_request_s": 3.2,
    "wall_s": 10.2,
    "peak_rss_mb": 334,
}
CHARS_PER_TOKEN = 4  # the emulator's estimate (polyteam.emulator.texts)


class RecordingResponder:
    """Wraps the team responder and keeps every prompt with the reply's tag, so the token economy can
    check what each WriteCode prompt quotes (the emulator runs in this process, in a thread)."""

    def __init__(self, inner: Any) -> None:
        from polyteam.emulator import resolve_responder

        self.inner = resolve_responder(inner)
        self.prompts: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    async def __call__(self, req: Any) -> Any:
        from polyteam.emulator.responders import call_responder

        reply = await call_responder(self.inner, req)
        text = "\n".join(str(m.get("content", "")) for m in req.messages)
        with self._lock:
            self.prompts.append((reply.tag or "?", text))
        return reply


def measure(latency_ms: int, n_files: int, *, sequential: bool = False, review_k: int = 1) -> dict[str, Any]:
    """One full run; every figure of the pipeline table and the token economy rows.

    Raises:
        RuntimeError: the run did not finish with exit 0 (its last lines are in the message).
    """
    from polyteam.emulator import EmulatorThread

    with tempfile.TemporaryDirectory(prefix="polyteam-bench-") as tmp:
        root = Path(tmp)
        log_path = root / "emulator.jsonl"
        load_before = os.getloadavg()[0]
        recorder = RecordingResponder(c.team_responder(n_files))
        with EmulatorThread(responder=recorder, latency_ms=latency_ms, log_path=log_path) as emu:
            config = c.write_config(root / "config", emu.base_url, max_concurrency=1 if sequential else None)
            argv = c.polyteam_argv(
                "run", REQUIREMENT, "--workdir", str(root / "ws"), "--config-dir", str(config),
                "--review-k", str(review_k), "--quiet",
            )  # fmt: skip
            child = c.run_child(argv, cwd=root, env=c.child_env())
        if child.returncode != 0:
            tail = (child.stderr or child.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"polyteam run exited {child.returncode}: " + " / ".join(tail))
        records = c.read_jsonl(log_path)
        project = c.find_project(root / "ws")
        graph = c.load_graph(project)
        ledger = [x for x in c.read_jsonl(project / ".polyteam" / "ledger.jsonl") if x.get("event") != "started"]
        per_tag = c.calls_by_tag(records)
        path = c.critical_path(graph, per_tag)
        bound = path.calls * latency_ms / 1000
        first = min(r["ts_start"] for r in records) - child.started_at
        span = max(r["ts_end"] for r in records) - min(r["ts_start"] for r in records)
        prompt = sum(int(x.get("input_tokens") or 0) for x in ledger)
        completion = sum(int(x.get("output_tokens") or 0) for x in ledger)
        return {
            "latency_ms": latency_ms,
            "files": n_files,
            "mode": "sequential" if sequential else "concurrent",
            "review_k": review_k,
            "calls": len(records),
            "ledger_calls": len(ledger),
            "critical_calls": path.calls,
            "critical_chain": path.chain,
            "bound_s": bound,
            "wall_s": child.wall_s,
            "ratio": child.wall_s / bound if bound else None,
            "span_s": span,
            "after_last_s": child.started_at + child.wall_s - max(r["ts_end"] for r in records),
            "span_ratio": span / bound if bound else None,
            "first_request_s": first,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "emulator_prompt_tokens": sum(int(r.get("prompt_tokens") or 0) for r in records),
            "peak_rss_mb": child.peak_rss_mb,
            "max_in_flight": emu.max_in_flight(),
            "load_avg_1m_before": load_before,
            "by_action": _by_action(records),
            "cpu_s": child.cpu_s,
            "per_file": _per_file(records, graph, project, recorder.prompts),
            "quotes": _quotes(graph, project, recorder.prompts),
        }


def _by_action(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for rec in records:
        row = out.setdefault(c.tag_action(rec.get("tag")), {"calls": 0, "prompt_tokens": 0})
        row["calls"] += 1
        row["prompt_tokens"] += int(rec.get("prompt_tokens") or 0)
    for row in out.values():
        row["per_call"] = row["prompt_tokens"] / row["calls"]
    return out


def _per_file(
    records: list[dict[str, Any]], graph: c.Graph, project: Path, prompts: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Each WriteCode call: #deps, #files already written when it was asked, prompt tokens, the part
    of them that is the dependencies' code (the files as written, in the emulator's estimate), and
    which files' code the prompt actually quotes (found by text in the recorded prompt)."""
    codes = {f: _read(project / f).strip() for f in graph.files}
    quoted: dict[str, set[str]] = {}
    for tag, text in prompts:
        if c.tag_action(tag) == "WriteCode":
            name = c.tag_file(tag)
            quoted.setdefault(name, set()).update(
                other for other, code in codes.items() if other != name and code and code[:200] in text
            )
    writes = sorted(
        (r for r in records if c.tag_action(r.get("tag")) == "WriteCode"), key=lambda r: r["ts_start"]
    )
    rows = []
    for rec in writes:
        name = c.tag_file(rec.get("tag"))
        deps = graph.deps.get(name, [])
        before = sum(1 for other in writes if other is not rec and other["ts_end"] <= rec["ts_start"])
        dep_chars = sum(len(_read(project / d)) for d in deps)
        rows.append(
            {
                "file": name,
                "deps": len(deps),
                "written_before": before,
                "prompt_tokens": int(rec.get("prompt_tokens") or 0),
                "dep_code_tokens": round(dep_chars / CHARS_PER_TOKEN),
                "deps_quoted": len(quoted.get(name, set()) & set(deps)),
                "others_quoted": len(quoted.get(name, set()) - set(deps)),
            }
        )
    return rows


def _quotes(graph: c.Graph, project: Path, prompts: list[tuple[str, str]]) -> dict[str, Any]:
    """How many times the prompts quote a generated file's code, and how many tokens that is: what
    the total would become with bigger files (a real model's) than the emulator's small ones."""
    codes = {f: _read(project / f).strip() for f in graph.files}
    count = 0
    tokens = 0
    for _tag, text in prompts:
        for code in codes.values():
            if code and code[:200] in text:
                count += 1
                tokens += round(len(code) / CHARS_PER_TOKEN)
    sizes = [round(len(code) / CHARS_PER_TOKEN) for code in codes.values() if code]
    return {"count": count, "tokens": tokens, "mean_file_tokens": sum(sizes) / max(1, len(sizes))}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


# --- printing -------------------------------------------------------------------------------------


def pipeline_table(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        judged = r["latency_ms"] >= 500 and r["mode"] == "concurrent"
        ratio_ok = (r["ratio"] <= TARGET_RATIO) if judged and r["ratio"] is not None else None
        rows.append(
            [
                r["latency_ms"], r["files"], r["mode"], r["calls"], r["critical_calls"], r["bound_s"],
                r["wall_s"], "-" if r["ratio"] is None else f"{r['ratio']:.2f}", c.verdict(ratio_ok),
                "-" if r["span_ratio"] is None else f"{r['span_ratio']:.2f}", r["first_request_s"],
                c.verdict(r["first_request_s"] <= TARGET_FIRST_S), r["after_last_s"], r["cpu_s"], r["prompt_tokens"], r["completion_tokens"],
                r["peak_rss_mb"], c.verdict(r["peak_rss_mb"] <= TARGET_RSS_MB), r["max_in_flight"],
                f"{r['load_avg_1m_before']:.1f}",
            ]
        )  # fmt: skip
    headers = [
        "L ms", "N", "mode", "calls", "crit calls", "bound s", "wall s", "wall/bound", f"<= {TARGET_RATIO}",
        "span/bound", "1st req s", f"<= {TARGET_FIRST_S}", "after last s", "CPU s", "prompt tok", "compl tok", "peak RSS MB",
        f"<= {TARGET_RSS_MB:.0f}", "max in flight", "load",
    ]  # fmt: skip
    return c.table(headers, rows)


def speedup_lines(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for seq in (r for r in results if r["mode"] == "sequential"):
        twin = next(
            (r for r in results if r["mode"] == "concurrent" and r["files"] == seq["files"]
             and r["latency_ms"] == seq["latency_ms"]),
            None,
        )  # fmt: skip
        if twin:
            lines.append(
                f"N={seq['files']} L={seq['latency_ms']} ms: sequential {seq['wall_s']:.2f} s vs concurrent "
                f"{twin['wall_s']:.2f} s = {seq['wall_s'] / twin['wall_s']:.2f}x faster with concurrency "
                f"({seq['calls']} calls one after another vs a {twin['critical_calls']}-call critical path)"
            )
    return lines


def token_tables(result: dict[str, Any]) -> str:
    n = result["files"]
    by_action = [
        [action, int(v["calls"]), int(v["prompt_tokens"]), round(v["per_call"])]
        for action, v in sorted(result["by_action"].items())
    ]
    parts = [
        f"prompt tokens by action, N={n} (total {result['prompt_tokens']:,}; emulator log "
        f"{result['emulator_prompt_tokens']:,}):",
        c.table(["action", "calls", "prompt tok", "per call"], by_action),
        f"WriteCode per file, N={n}, in the order asked:",
        c.table(
            [
                "file",
                "#deps",
                "#written before",
                "prompt tok",
                "deps' code tok",
                "rest",
                "quotes deps",
                "quotes others",
            ],
            [
                [
                    r["file"],
                    r["deps"],
                    r["written_before"],
                    r["prompt_tokens"],
                    r["dep_code_tokens"],
                    r["prompt_tokens"] - r["dep_code_tokens"],
                    r["deps_quoted"],
                    r["others_quoted"],
                ]
                for r in result["per_file"]
            ],
        ),  # fmt: skip
    ]
    rows = result["per_file"]
    leaky = sum(1 for r in rows if r["others_quoted"])
    parts.append(
        f"WriteCode prompts quoting the code of a file they do not depend on: {leaky} of {len(rows)} "
        f"({'met' if not leaky else 'NOT met'}; the peer quotes every earlier file in every later prompt). "
        "rest = template, requirement, design excerpt and the project's file list"
    )
    return "\n".join(parts)


def token_target_line(results: list[dict[str, Any]]) -> str | None:
    four = [r for r in results if r["files"] == 4 and r["mode"] == "concurrent"]
    if not four:
        return None
    tokens = four[0]["prompt_tokens"]
    ok = tokens <= TARGET_PROMPT_TOKENS
    q = four[0]["quotes"]
    fixed = tokens - q["tokens"]
    even = (TARGET_PROMPT_TOKENS - fixed) / q["count"] if q["count"] else float("inf")
    return (
        f"total prompt tokens, 4-file project: {tokens:,} (target <= {TARGET_PROMPT_TOKENS:,} = half the "
        f"peer's {REFERENCE_PROMPT_TOKENS:,}): {c.verdict(ok)}\n"
        f"sensitivity: the prompts quote generated code {q['count']} times ({q['tokens']:,} tokens; the emulator's "
        f"files average {q['mean_file_tokens']:.0f} tokens); the rest ({fixed:,}) does not depend on file size, so "
        f"the target holds while a generated file averages <= {even:,.0f} tokens"
    )


def matrix_configs() -> list[tuple[int, int, bool]]:
    return [(0, 4, False), (0, 12, False), (500, 4, False), (500, 12, False), (500, 4, True), (500, 12, True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=500)
    parser.add_argument("--files", default="4", help="files in the project; a list runs each: 4,12")
    parser.add_argument("--sequential", action="store_true", help="concurrency off (max_concurrency: 1)")
    parser.add_argument("--review-k", type=int, default=1)
    parser.add_argument(
        "--matrix", action="store_true", help="L in {0,500} x N in {4,12} + sequential baseline"
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)

    files = [int(n) for n in str(args.files).split(",") if n.strip()]
    configs = matrix_configs() if args.matrix else [(args.latency_ms, n, args.sequential) for n in files]
    results = []
    for latency, n_files, sequential in configs:
        print(f"running L={latency} ms N={n_files} {'sequential' if sequential else 'concurrent'} ...",
              file=sys.stderr, flush=True)  # fmt: skip
        results.append(measure(latency, n_files, sequential=sequential, review_k=args.review_k))

    print(f"machine: {c.machine()}")
    print(f"pipeline: polyteam run {REQUIREMENT!r}, review k={args.review_k}, emulator team:N responder")
    print(pipeline_table(results))
    print(
        "bound = calls on the longest dependency chain x L; wall = fork to exit of `polyteam run` "
        "(start-up included); span = first request start to last request end (emulator log); after last = last response to "
        "exit (final writes, summary, report, interpreter exit); CPU = the polyteam process's user+system time; "
        "load = the machine's 1-min load average before the run (2 cores: above 2 means contention); "
        "the child runs with its bytecode cached, as an installed package does (BENCH_NO_BYTECODE=1: not)"
    )
    print(f"1-min load average after the runs: {os.getloadavg()[0]:.2f}")
    for line in speedup_lines(results):
        print(line)
    print(
        f"peer reference (4 files, L=500 ms): {REFERENCE['calls']} calls one after another, wall "
        f"{REFERENCE['wall_s']} s, first request {REFERENCE['first_request_s']} s, prompt "
        f"{REFERENCE['prompt_tokens']:,} / completion {REFERENCE['completion_tokens']:,} tokens, "
        f"peak RSS {REFERENCE['peak_rss_mb']} MB"
    )
    print()
    shown: set[int] = set()
    for r in results:
        if r["mode"] == "concurrent" and r["files"] not in shown:
            shown.add(r["files"])
            print(token_tables(r))
            print()
    line = token_target_line(results)
    if line:
        print(line)
    if args.json:
        args.json.write_text(
            json.dumps({"machine": c.machine(), "results": results}, indent=2), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
