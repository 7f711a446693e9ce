"""M team runs at once in one process against one emulator: wall time and peak RSS per run as M grows.

    python benchmarks/scale.py --runs 1,10,50 --latency-ms 200 [--files 4] [--limit 4]

For each M a fresh child process (so its peak RSS is its own) loads the config once and runs M
`Team.standard(settings).arun(...)` with `asyncio.gather`, each in its own workdir; the emulator
(`team:N` responder, L ms per request) runs in this process, in a thread. Reported per M: the
child's wall time for all M runs, the mean and slowest single run, the child's peak RSS and its
growth per run over the RSS it had before the runs, and the most requests in flight.

Then the per-endpoint limit under load: the largest M again, with WriteCodeReview routed to a
second MODEL_LIST entry (`/limited/v1` on the same emulator) with `max_concurrency: LIMIT`; the most
requests in flight to that endpoint, computed from the emulator log's ts_start/ts_end intervals,
must not exceed LIMIT. Exit status 1 when it does (the limit did not hold), else 0.

`--diagnose-no-fsync` (diagnosis only, says so in its output): os.fsync is a no-op in the child, to
show how much of the curve is the runs' synchronous fsyncs on the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c  # noqa: E402

REQUIREMENT = "Write a cli snake game"
LIMITED_ACTION = "WriteCodeReview"
LIMITED_PATH = "/limited/v1/chat/completions"
TARGET_M = 20  # issue 15: at M = 20, mean run <= 1.2 x M = 1 and <= 4 ms of CPU per request
TARGET_RATIO = 1.2
TARGET_CPU_MS = 4.0


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _runs(config_dir: Path, workdir: Path, m: int, review_k: int) -> dict[str, Any]:
    from polyteam.config import load_settings
    from polyteam.team import Team

    settings = load_settings(config_dir=config_dir)
    rss_before = _rss_mb()

    async def one(i: int) -> tuple[str, float]:
        t0 = time.perf_counter()
        _, summary = await Team.standard(settings).arun(
            REQUIREMENT, workdir=workdir / f"run{i}", review_k=review_k
        )
        return summary.status, time.perf_counter() - t0

    t0, cpu0 = time.perf_counter(), time.process_time()
    done = await asyncio.gather(*(one(i) for i in range(m)))
    return {
        "wall_s": time.perf_counter() - t0,
        "run_cpu_s": time.process_time() - cpu0,  # the runs alone: start-up and imports excluded
        "statuses": [s for s, _ in done],
        "run_s": [t for _, t in done],
        "rss_before_mb": rss_before,
    }


def child_main(config_dir: Path, workdir: Path, m: int, review_k: int, no_fsync: bool = False) -> int:
    """The child: warm the imports (as a long-lived process would have them), run M teams, print JSON."""
    if no_fsync:  # diagnosis only (--diagnose-no-fsync): what the curve is without blocking fsync calls
        os.fsync = lambda fd: None
    import polyteam.actions.structured  # noqa: F401
    import polyteam.cost  # noqa: F401
    import polyteam.gateway  # noqa: F401
    import polyteam.providers.openai  # noqa: F401
    import polyteam.team.roles  # noqa: F401

    result = asyncio.run(_runs(config_dir, workdir, m, review_k))
    print(json.dumps(result))
    return 0


def measure(
    emu: Any,
    root: Path,
    m: int,
    review_k: int,
    latency_ms: int,
    *,
    limit: int | None = None,
    no_fsync: bool = False,
) -> dict[str, Any]:
    """M runs at once in a child process against `emu`.

    Raises:
        RuntimeError: the child failed or a run did not end "done".
    """
    tag = f"m{m}{'-limited' if limit else ''}"
    config = c.write_config(
        root / f"config-{tag}", emu.base_url, limited_action=LIMITED_ACTION if limit else None, limit=limit
    )
    first = len(emu.requests)
    before = resource.getrusage(resource.RUSAGE_SELF)
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(m),
        "--config-dir",
        str(config),
        "--workdir",
        str(root / f"ws-{tag}"),
        "--review-k",
        str(review_k),
    ]
    argv += ["--diagnose-no-fsync"] if no_fsync else []  # fmt: skip
    child = c.run_child(argv, cwd=root, env=c.child_env())
    after = resource.getrusage(resource.RUSAGE_SELF)  # this process: the emulator thread, mostly
    emulator_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if child.returncode != 0:
        tail = (child.stderr or child.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"scale child (M={m}) exited {child.returncode}: " + " / ".join(tail))
    data = json.loads(child.stdout.strip().splitlines()[-1])
    bad = [s for s in data["statuses"] if s != "done"]
    if bad:
        raise RuntimeError(f"M={m}: {len(bad)} run(s) did not finish: {sorted(set(bad))}")
    from polyteam.emulator import max_overlap

    records = emu.requests[first:]
    limited = [r for r in records if r.get("path") == LIMITED_PATH]
    return {
        "m": m,
        "limit": limit,
        "bound_s": _bound(root / f"ws-{tag}", records, m, latency_ms),
        "wall_s": data["wall_s"],
        "process_wall_s": child.wall_s,
        "mean_run_s": sum(data["run_s"]) / m,
        "max_run_s": max(data["run_s"]),
        "peak_rss_mb": child.peak_rss_mb,
        "rss_before_mb": data["rss_before_mb"],
        "rss_per_run_mb": (child.peak_rss_mb - data["rss_before_mb"]) / m,
        "requests": len(records),
        "cpu_ms_per_request": 1000 * child.cpu_s / max(1, len(records)),
        "run_cpu_ms_per_request": 1000 * data["run_cpu_s"] / max(1, len(records)),
        "emulator_cpu_ms_per_request": 1000 * emulator_cpu / max(1, len(records)),
        "max_in_flight": max_overlap(records),
        "limited_requests": len(limited),
        "limited_max_in_flight": max_overlap(limited) if limit else None,
    }


def _bound(workdir: Path, records: list[dict[str, Any]], m: int, latency_ms: int) -> float:
    """One run's critical-path bound, from its own docs/tasks.json and the calls per step (all runs
    make the same calls, so the log's count per tag / M)."""
    graph = c.load_graph(c.find_project(workdir / "run0"))
    per_tag = {tag: n // m for tag, n in c.calls_by_tag(records).items()}
    return c.critical_path(graph, per_tag).calls * latency_ms / 1000


def _limited(emu: Any, root: Path, ms: list[int], args: argparse.Namespace) -> dict[str, Any]:
    print(f"running M={max(ms)} with {LIMITED_ACTION} max_concurrency {args.limit} ...", file=sys.stderr)
    return measure(
        emu, root, max(ms), args.review_k, args.latency_ms, limit=args.limit, no_fsync=args.diagnose_no_fsync
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="1,10,50", help="comma-separated M values (default 1,10,50)")
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--review-k", type=int, default=1)
    parser.add_argument(
        "--limit", type=int, default=4, help=f"max_concurrency of the {LIMITED_ACTION} endpoint"
    )
    parser.add_argument(
        "--diagnose-no-fsync",
        action="store_true",
        help="diagnosis only: make os.fsync a no-op in the child (durability off) to show what it costs",
    )
    parser.add_argument("--skip-limit", action="store_true", help="leave out the per-endpoint limit run")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--config-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return child_main(args.config_dir, args.workdir, args.child, args.review_k, args.diagnose_no_fsync)

    from polyteam.emulator import EmulatorThread

    ms = [int(x) for x in args.runs.split(",") if x.strip()]
    load_before = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory(prefix="polyteam-scale-") as tmp:
        root = Path(tmp)
        with EmulatorThread(responder=c.team_responder(args.files), latency_ms=args.latency_ms,
                            log_path=root / "emulator.jsonl") as emu:  # fmt: skip
            for m in ms:
                print(f"running M={m} ...", file=sys.stderr, flush=True)
                results.append(
                    measure(emu, root, m, args.review_k, args.latency_ms, no_fsync=args.diagnose_no_fsync)
                )
            limited = None if args.skip_limit else _limited(emu, root, ms, args)

    alone = results[0]["mean_run_s"]
    print(f"machine: {c.machine()}  (1-min load average before: {load_before:.2f})")
    if args.diagnose_no_fsync:
        print("DIAGNOSIS ONLY: os.fsync was a no-op in the runs (durability off); not a product figure")
    print(f"scale: M team runs at once in one process, {args.files} files, review k={args.review_k}, "
          f"L={args.latency_ms} ms per request, one emulator")  # fmt: skip
    headers = [
        "M",
        "requests",
        "wall s (all M)",
        "bound s",
        "mean run s",
        "slowest run s",
        f"mean / M={results[0]['m']}",
        "peak RSS MB",
        "RSS before runs MB",
        "RSS growth per run MB",
        "client CPU ms/req",
        "in-run CPU ms/req",
        "emulator CPU ms/req",
        "max in flight",
    ]
    rows = [
        [
            r["m"],
            r["requests"],
            r["wall_s"],
            r["bound_s"],
            r["mean_run_s"],
            r["max_run_s"],
            f"{r['mean_run_s'] / alone:.2f}",
            r["peak_rss_mb"],
            r["rss_before_mb"],
            r["rss_per_run_mb"],
            f"{r['cpu_ms_per_request']:.1f}",
            f"{r['run_cpu_ms_per_request']:.1f}",
            f"{r['emulator_cpu_ms_per_request']:.1f}",
            r["max_in_flight"],
        ]
        for r in results
    ]
    print(c.table(headers, rows))  # fmt: skip
    print(
        "bound = one run's critical path (calls on its longest dependency chain x L); CPU ms/req = the "
        "process's user+system CPU time / requests (client: the child running the M teams, start-up "
        "included; in-run: the child's CPU time during the M runs only; emulator: this process)"
    )
    print(f"1-min load average after: {os.getloadavg()[0]:.2f} (2 cores: above 2 means contention)")
    for r in results:
        if r["m"] == TARGET_M:
            ratio = r["mean_run_s"] / alone
            print(
                f"M={TARGET_M}: mean run / M={results[0]['m']} = {ratio:.2f} (target <= {TARGET_RATIO}: "
                f"{c.verdict(ratio <= TARGET_RATIO)}); CPU per request {r['cpu_ms_per_request']:.1f} ms with "
                f"start-up, {r['run_cpu_ms_per_request']:.1f} ms in the runs (target <= {TARGET_CPU_MS:.0f} ms: "
                f"{c.verdict(r['cpu_ms_per_request'] <= TARGET_CPU_MS)} with start-up, "
                f"{c.verdict(r['run_cpu_ms_per_request'] <= TARGET_CPU_MS)} in the runs)"
            )
    if limited is None:
        return 0
    held = limited["limited_max_in_flight"] <= args.limit
    print(
        f"per-endpoint limit under load: M={limited['m']}, {LIMITED_ACTION} -> MODEL_LIST entry with "
        f"max_concurrency {args.limit}: {limited['limited_requests']} requests, at most "
        f"{limited['limited_max_in_flight']} in flight (from the emulator log) -> "
        f"{'held' if held else 'NOT held'}; wall {limited['wall_s']:.2f} s, mean run {limited['mean_run_s']:.2f} s"
    )
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
