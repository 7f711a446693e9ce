"""Spend <= budget under hostile usage reports: how many cases of N hold (issue 11).

For each usage mode of tests/e2e/hostile_server.py (honest, cjk, over, huge, negative, string) and
each first budget, runs `polyteam run --budget B`, `--resume` (no --budget: the saved one holds) and
`--resume --budget 3B`; each step is a case whose ledger total (finished costs + reservations of
attempts started and never finished) must be <= the budget in force. Then K kill -9 cases: a run
killed with WriteCode calls held open by the server, resumed without --budget.

    PYTHONPATH=src python benchmarks/budget_hostile.py [--budgets 0.03,0.06,0.12] [--kills 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests" / "e2e"), str(HERE.parent / "tests")]

from hostile_server import USAGES, HostileServer  # noqa: E402

CJK = "写一个带标签的命令行待办事项应用，支持添加、删除、列出任务，并按标签筛选和统计完成情况"
ENGLISH = "Write a CLI todo app with tags"


def config(folder: Path, base_url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(
        f'OPENAI_API_KEY: "sk-bench-0000000000000000"\nOPENAI_API_BASE: "{base_url}/v1"\n'
        'OPENAI_API_MODEL: "gpt-4o-mini"\nPRICES:\n  gpt-4o-mini: {input: 10, output: 10}\n'
    )
    (folder / "multi_llm_config.yaml").write_text("")
    return folder


def polyteam(*args: str, cwd: Path) -> int:
    cmd = (
        [sys.executable, "-m", "polyteam.cli", *args, "--quiet"]
        if args[0] == "run"
        else [sys.executable, "-m", "polyteam.cli", *args]
    )
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300).returncode


def total(project: Path) -> float:
    rows = [json.loads(x) for x in (project / ".polyteam/ledger.jsonl").read_text().splitlines() if x.strip()]
    done = {r.get("attempt_id") for r in rows if r.get("event") != "started"}
    spent = sum(r["cost_usd"] for r in rows if r.get("event") != "started")
    return spent + sum(
        r["reserved_usd"] for r in rows if r.get("event") == "started" and r["attempt_id"] not in done
    )


def project(ws: Path) -> Path:
    return next(p for p in ws.iterdir() if (p / ".polyteam/state.json").exists())


def usage_cases(budgets: list[float]) -> list[tuple[str, float, float, bool]]:
    cases = []
    for usage in USAGES:
        for budget in budgets:
            with tempfile.TemporaryDirectory() as tmp, HostileServer(usage=usage) as server:
                root = Path(tmp)
                cfg = config(root / "cfg", server.base_url)
                req = CJK if usage == "cjk" else ENGLISH
                polyteam(
                    "run", req, "--workdir", "ws", "--config-dir", str(cfg), "--budget", str(budget), cwd=root
                )
                proj = project(root / "ws")
                cases.append((f"{usage} fresh", budget, total(proj), total(proj) <= budget + 1e-9))
                polyteam("run", "--resume", str(proj), cwd=root)
                cases.append((f"{usage} resume kept", budget, total(proj), total(proj) <= budget + 1e-9))
                polyteam("run", "--resume", str(proj), "--budget", str(3 * budget), cwd=root)
                cases.append(
                    (f"{usage} resume x3", 3 * budget, total(proj), total(proj) <= 3 * budget + 1e-9)
                )
    return cases


def kill_cases(n: int, budget: float = 1.0) -> list[tuple[str, float, float, bool]]:
    cases = []
    for _ in range(n):
        with (
            tempfile.TemporaryDirectory() as tmp,
            HostileServer(hold=lambda t: t.startswith("WriteCode:")) as server,
        ):
            root = Path(tmp)
            cfg = config(root / "cfg", server.base_url)
            args = [sys.executable, "-m", "polyteam.cli", "run", ENGLISH, "--workdir", "ws", "--config-dir", str(cfg),
                    "--budget", str(budget), "--quiet"]  # fmt: skip
            proc = subprocess.Popen(
                args, cwd=root, env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                server.wait_for(2, lambda s: s.tag.startswith("WriteCode:"))
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            server.release()
            proj = project(root / "ws")
            polyteam("run", "--resume", str(proj), cwd=root)
            cases.append(("kill -9 + resume", budget, total(proj), total(proj) <= budget + 1e-9))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="0.03,0.06,0.12")
    parser.add_argument("--kills", type=int, default=3)
    args = parser.parse_args()
    load = os.getloadavg()
    cases = usage_cases([float(b) for b in args.budgets.split(",")]) + kill_cases(args.kills)
    for name, budget, spent, ok in cases:
        print(f"{'ok ' if ok else 'OVER'} {name:<22} budget ${budget:.2f} ledger ${spent:.4f}")
    held = sum(ok for *_, ok in cases)
    end = os.getloadavg()
    print(f"spend <= budget in {held} of {len(cases)} hostile-usage cases "
          f"(load average {load[0]:.1f} at start, {end[0]:.1f} at end)")  # fmt: skip


if __name__ == "__main__":
    main()
