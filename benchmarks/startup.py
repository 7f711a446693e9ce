"""Start-up cost: `polyteam --help` and `import polyteam` wall time, and modules imported.

    python benchmarks/startup.py [--runs 10]

Prints one table. The target (issue 7) is <= 0.25 s for `polyteam --help`; the baseline on the same
machine is a bare `python -c pass`, so the figure that matters is the difference.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

TARGET_HELP_S = 0.25


def _wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _modules_imported(code: str) -> tuple[int, list[tuple[int, str]]]:
    """Count modules imported by `code` and the slowest top-level ones, from `python -X importtime`."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cumulative_us, name = line.removeprefix("import time:").split("|", 2)
        rows.append((int(cumulative_us), name[1:].rstrip()))
    top = sorted((r for r in rows if not r[1].startswith(" ")), reverse=True)[:8]
    return len(rows), top


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)

    py = sys.executable
    bare = _wall([py, "-c", "pass"], args.runs)
    imp = _wall([py, "-c", "import polyteam"], args.runs)
    cli_import = _wall([py, "-c", "import polyteam.cli"], args.runs)
    helps = _wall([py, "-m", "polyteam.cli", "--help"], args.runs)
    n_help, top_help = _modules_imported(
        "import sys; sys.argv=['polyteam','--help']\n"
        "from polyteam.cli import main\ntry:\n main()\nexcept SystemExit:\n pass"
    )
    n_bare, _ = _modules_imported("pass")

    print(f"{'measure':<34}{'median s':>10}{'target':>10}{'met':>6}")
    print(f"{'python -c pass (baseline)':<34}{bare:>10.3f}{'':>10}{'':>6}")
    print(f"{'import polyteam':<34}{imp:>10.3f}{'':>10}{'':>6}")
    print(f"{'import polyteam.cli':<34}{cli_import:>10.3f}{'':>10}{'':>6}")
    met = "yes" if helps <= TARGET_HELP_S else "no"
    print(f"{'polyteam --help':<34}{helps:>10.3f}{TARGET_HELP_S:>10.2f}{met:>6}")
    print(f"{'modules imported by --help':<34}{n_help:>10}{'':>10}{'':>6}")
    print(f"{'modules imported by python -c pass':<34}{n_bare:>10}{'':>10}{'':>6}")
    print("slowest imports under --help (cumulative us):")
    for us, name in top_help:
        print(f"  {us:>9}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
