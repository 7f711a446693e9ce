"""`polyteam run "REQUIREMENT"` and `polyteam run --resume PROJECT_DIR` (DESIGN §5, §6).

Checks the options, loads the configuration (errors: exit 2 via `polyteam.cli.main`), runs the
standard team under this module's one `asyncio.run` with a live display, and prints where the
project is, how it ended, calls per LLM, time and cost. Exit status: 0 done, 1 failed (one line
why), 3 stopped by the budget (state saved; the message says how to resume), 130 Ctrl-C (state
saved). The team's work is `polyteam.team`; the display is `polyteam.progress`.
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import Any

import typer

from polyteam.config.schema import MAX_REVIEW_K
from polyteam.errors import UsageError
from polyteam.redact import redact
from polyteam.safepath import shown_name
from polyteam.terminal import printable

EXIT_FAILED = 1
EXIT_BUDGET = 3
EXIT_INTERRUPTED = 130


def _usage(key: str, problem: str, fix: str) -> UsageError:
    return UsageError("polyteam run", key, problem, fix)


def _check_options(
    requirement: str | None,
    resume: Path | None,
    review_k: int | None,
    budget: float | None,
    redo: bool = False,
) -> None:
    if resume is None and not (requirement or "").strip():
        raise _usage("REQUIREMENT", "missing", "pass the requirement in quotes, or --resume PROJECT_DIR")
    if resume is not None and requirement:
        raise _usage("--resume", "a requirement and --resume were both given", "pass one of them")
    if review_k is not None and not 0 <= review_k <= MAX_REVIEW_K:
        raise _usage("--review-k", f"{review_k} is out of range", f"use 0 (review off) to {MAX_REVIEW_K}")
    if redo and resume is None:
        raise _usage("--redo", "only applies to --resume", "pass --resume PROJECT_DIR --redo")
    if budget is not None:
        from polyteam.budget import checked_budget

        checked_budget(budget)  # NaN, infinity, 0 and negatives: exit 2


def _saved_settings(resume: Path) -> dict[str, Any]:
    """The stopped run's saved settings: the config folder, the budget it started with."""
    from polyteam.errors import PolyteamError
    from polyteam.team.state import RunState
    from polyteam.workspace import Workspace

    try:
        state = RunState.load(Workspace(resume))  # validated: a wrong-typed field is one line
    except PolyteamError as exc:  # no project there: a usage error (exit 2), said in one line
        raise UsageError("polyteam run", "--resume", str(exc)) from None
    return dict(state.settings)


def _saved_config_dir(saved: dict[str, Any]) -> Path | None:
    """The config folder the stopped run used (a resume reads the same one unless told otherwise)."""
    folder = saved.get("config_dir")
    return Path(folder) if isinstance(folder, str) and folder and Path(folder).is_dir() else None


def _budget_stop_line(summary: Any, path: Path) -> str:
    """The one line at a budget stop: the cap, what was spent and reserved, how a resume treats it."""
    from polyteam.budget import stop_detail

    cap = f"${summary.budget_usd:.4f}" if summary.budget_usd is not None else "the budget"
    return (
        f"polyteam: stopped by the budget ({cap}, a resume keeps it unless --budget is given): "
        f"{stop_detail(summary.error)}; state saved. Continue with a higher budget: "
        f"{_resume_hint(path, budget=True)}"
    )


def _bundled_notice(settings: Any) -> str | None:
    router = settings.router
    if not getattr(router, "default_is_bundled", False):
        return None
    model = getattr(router.default, "model", "") or "the bundled model"
    return (
        f"Using the bundled {model}: a tiny local model for trying polyteam, not for real projects. "
        "Configure a provider in config/config.yaml (e.g. OPENAI_API_KEY) and route roles in "
        "config/multi_llm_config.yaml; `polyteam routes` shows the result."
    )


def _resume_hint(path: Path, budget: bool = False) -> str:
    cmd = f"polyteam run --resume {shlex.quote(str(path))}"
    return cmd + (" --budget USD" if budget else "")


def _status_line(summary: Any) -> str:
    if getattr(summary, "already_done", False):
        return (
            f"status: already done (in {summary.elapsed_s:.1f}s); nothing requested or written. "
            "Pass --redo to write its files again"
        )
    if summary.resumed:  # "done in" is this session's time; the total is said as such
        session = getattr(summary, "session_s", summary.elapsed_s)
        return f"status: {summary.status} in {session:.1f}s this session ({summary.elapsed_s:.1f}s in all)"
    return f"status: {summary.status} in {summary.elapsed_s:.1f}s"


def _calls_line(summary: Any, by_model: list[dict[str, Any]] | None) -> str | None:
    """Calls per LLM: from the ledger when there is one (so it agrees with the report's totals,
    failed and interrupted attempts included), else from the run state (finished actions)."""
    per: dict[str, list[int]] = {}  # llm -> [calls, failed, input, output]
    if by_model:
        for g in by_model:
            row = per.setdefault(str(g.get("llm") or "?"), [0, 0, 0, 0])
            for n, key in enumerate(("calls", "failed", "input_tokens", "output_tokens")):
                row[n] += int(g.get(key) or 0)
    else:
        for llm, n in summary.calls_by_llm.items():
            per[llm] = [n, 0, *summary.tokens_by_llm.get(llm, (0, 0))]
    if not per:
        return None
    text = ", ".join(
        f"{llm} {c} call{'s' if c != 1 else ''}{f', {f} failed' if f else ''} ({i:,}+{o:,} tokens)"
        for llm, (c, f, i, o) in sorted(per.items(), key=lambda kv: (-kv[1][0], kv[0]))
    )
    return f"calls per LLM{' (all sessions)' if by_model and summary.resumed else ''}: {text}"


def summary_lines(
    summary: Any, report: list[str] | None = None, by_model: list[dict[str, Any]] | None = None
) -> list[str]:
    """The end-of-run lines: where, how it ended, time, calls per LLM (`by_model`: the report's
    per-model rows), what was skipped or kept, then the cost report's lines (`report`); without a
    report, the run's own repair and cost figures. Redacted and safe for a terminal."""
    lines = [f"project: {summary.project_path}", _status_line(summary)]
    if summary.cached:
        lines.append(
            f"resumed: {summary.cached} finished action(s) taken from the checkpoint, not requested again"
        )
    calls = _calls_line(summary, by_model)
    if calls:
        lines.append(calls)
    for name, why in summary.skipped:  # a reason from safepath starts with the name, escaped
        lines.append(
            f"skipped {why}" if why.startswith(shown_name(name)) else f"skipped {shown_name(name)}: {why}"
        )
    for name, beside in getattr(summary, "kept", []):
        lines.append(f"kept {name!r}: changed since polyteam wrote it; the new version is {beside!r}")
    # what a user must know even with --quiet: reviews skipped, corrected files, dependency plans
    lines.extend(f"note: {text}" for text in summary.notes if ": skipped: " in text or "review round" in text)
    if report:
        lines.extend(report)
    else:
        stats = summary.stats
        lines.append(
            f"repairs {stats.get('repairs', 0)}, re-asks {stats.get('reasks', 0)}, "
            f"fallbacks {stats.get('fallbacks', 0)}"
        )
        from polyteam.quality import quality_lines  # the report's lines hold them otherwise

        lines.extend(quality_lines(getattr(summary, "quality", None)))
        if summary.cost_usd is not None:
            cap = f" of a ${summary.budget_usd:.4f} budget" if summary.budget_usd is not None else ""
            lines.append(f"cost: ${summary.cost_usd:.4f}{cap}")
    return [printable(redact(line)) for line in lines]


def _report(path: Path) -> tuple[list[str], list[dict[str, Any]] | None]:
    """The cost report's summary lines and per-model rows ([] and None: no ledger yet)."""
    from polyteam.errors import PolyteamError
    from polyteam.report import build_report
    from polyteam.report import summary_lines as report_summary

    try:
        report = build_report(path)
    except PolyteamError:  # no ledger yet (nothing was called): the run summary says enough
        return [], None
    return report_summary(report), list(report.get("by_model") or [])


def run(
    *,
    requirement: str | None = None,
    workdir: Path = Path("workspace"),
    config_dir: Path | None = None,
    budget: float | None = None,
    review_k: int | None = None,
    resume: Path | None = None,
    overwrite: bool = False,
    redo: bool = False,
    quiet: bool = False,
    as_json: bool = False,
    capture: bool = False,
) -> None:
    """Run (or resume) the standard team and print the summary; exits non-zero unless done.

    `as_json`: no live display, the summary as one JSON document on stdout (`run_json`), the
    exit status unchanged. `capture`: each prompt and reply in .polyteam/calls/ (polyteam.capture).

    Raises:
        UsageError: bad options (exit 2). ConfigError: a bad configuration (exit 2).
        PolyteamError: the project folder or a resumed run's state cannot be used (exit 1).
        typer.Exit: 1 failed, 3 budget, 130 interrupted.
    """
    from rich.console import Console

    from polyteam.budget import check_prices, resolve_budget
    from polyteam.config import load_settings
    from polyteam.progress import make_progress
    from polyteam.team import Team

    _check_options(requirement, resume, review_k, budget, redo)
    saved = _saved_settings(resume) if resume is not None else {}
    if resume is not None and config_dir is None:
        config_dir = _saved_config_dir(saved)
    settings = load_settings(config_dir=config_dir)
    cap, _ = resolve_budget(budget, saved.get("budget_usd"), settings.max_budget)
    warning = check_prices(settings, cap)  # an unpriced route under a budget: exit 2, nothing sent
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    for line in (_bundled_notice(settings), warning):
        if line:
            errors.print(line, markup=False, soft_wrap=True)

    team = Team.standard(settings, capture=capture)
    progress = make_progress(console, quiet=quiet or as_json)
    try:
        with progress:
            if resume is not None:
                coro = team.aresume(resume, review_k=review_k, budget=budget, on_event=progress, redo=redo)
            else:
                coro = team.arun(requirement or "", workdir=workdir, overwrite=overwrite, review_k=review_k,
                                 budget=budget, on_event=progress)  # fmt: skip
            path, summary = asyncio.run(coro)
    except KeyboardInterrupt:
        where = team.project_path
        hint = f"; continue with: {_resume_hint(where)}" if where is not None else ""
        errors.print(f"polyteam: interrupted, state saved{hint}", markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None

    _finish(summary, path, console, errors, as_json=as_json)


def _finish(summary: Any, path: Path, console: Any, errors: Any, *, as_json: bool) -> None:
    """Print the summary (lines or JSON), then the stop line on stderr; exit unless done.

    Raises:
        typer.Exit: 1 failed, 3 budget.
    """
    if as_json:
        from polyteam.commands.run_json import print_summary_json

        print_summary_json(summary)
    else:
        for line in summary_lines(summary, *_report(path)):
            console.print(line, markup=False, soft_wrap=True)
    if summary.status == "budget":
        errors.print(_budget_stop_line(summary, path), markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_BUDGET)
    if summary.status != "done":
        errors.print(
            f"polyteam: run failed: {printable(redact(summary.error))}; state saved, continue with: {_resume_hint(path)}",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_FAILED)
