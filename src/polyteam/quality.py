"""Quality signals of a run, per LLM: what was planned, written, compiles, imports resolve; reviews;
repairs, re-asks, gate failures and degraded artifacts (issue 12: "which model carried its weight").

Owns `assess(done, usage, project_dir)`, read from a run's checkpoint (`state.json`'s "done" and
"usage", so `polyteam report` recomputes it for any project) and its files on disk (compiled with
`compile()`, never run or imported), and `quality_lines`, the summary's and report's lines. A
file counts for the LLM whose code is on disk: its writer, or the reviewer whose corrected code
replaced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["assess", "quality_lines"]

_COUNTS = (
    "calls",
    "files_planned",
    "files_written",
    "files_compiling",
    "imports_resolved",
    "lgtm",
    "lbtm",
    "repairs",
    "reasks",
    "gate_failures",
    "degraded",
)


def _blank() -> dict[str, int]:
    return dict.fromkeys(_COUNTS, 0)


def _project_files(done: Mapping[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(planned files, design files, packages) from the checkpoint's design and tasks."""
    design = done.get("WriteDesign") or {}
    tasks = done.get("WriteTasks") or {}
    planned = [str(f) for f in (tasks.get("task_list") or design.get("file_list") or [])]
    files = list(dict.fromkeys([*planned, *(str(f) for f in design.get("file_list") or [])]))
    packages = [
        str(p) for p in [*(tasks.get("required_packages") or []), *(design.get("third_party_packages") or [])]
    ]
    return planned, files, packages


def _code_owner(usage: Mapping[str, Any], done: Mapping[str, Any], file: str) -> str:
    """The LLM whose code for `file` is on disk: the last LBTM reviewer with code, else its writer."""
    owner = str((usage.get(f"WriteCode:{file}") or {}).get("llm") or "?")
    round_no = 1
    while f"WriteCodeReview:{file}:{round_no}" in done:
        review = done[f"WriteCodeReview:{file}:{round_no}"] or {}
        if review.get("verdict") == "LBTM" and review.get("corrected_code"):
            owner = str((usage.get(f"WriteCodeReview:{file}:{round_no}") or {}).get("llm") or owner)
        round_no += 1
    return owner


def assess(done: Mapping[str, Any], usage: Mapping[str, Any], project_dir: Path) -> dict[str, Any]:
    """The run's quality signals: totals, per LLM, and the files that do not compile or resolve."""
    from polyteam.actions.gates import compile_problem, import_problems

    per: dict[str, dict[str, int]] = {}
    planned, files, packages = _project_files(done)
    tasks_llm = str((usage.get("WriteTasks") or {}).get("llm") or "?")
    if planned:
        per.setdefault(tasks_llm, _blank())["files_planned"] += len(planned)
    not_compiling: list[str] = []
    unresolved: list[str] = []
    for f in planned:
        path = project_dir / f
        if f"WriteCode:{f}" not in done or not path.is_file():
            continue
        row = per.setdefault(_code_owner(usage, done, f), _blank())
        row["files_written"] += 1
        if not f.endswith(".py"):
            continue
        try:
            code = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if compile_problem(f, code):
            not_compiling.append(f)
            continue
        row["files_compiling"] += 1
        if import_problems(f, code, files, packages):
            unresolved.append(f)
        else:
            row["imports_resolved"] += 1
    degraded: list[str] = []
    for key, entry in usage.items():
        llm = str(entry.get("llm") or "?")
        row = per.setdefault(llm, _blank())
        row["calls"] += int(entry.get("calls") or 0)
        for other, counts in (entry.get("by_llm") or {}).items():
            target = per.setdefault(str(other), _blank())
            for name in ("repairs", "reasks", "gate_failures"):
                target[name] += int(counts.get(name) or 0)
        if entry.get("degraded"):
            row["degraded"] += 1
            degraded.append(key)
        verdict = (done.get(key) or {}).get("verdict") if key.startswith("WriteCodeReview:") else None
        if verdict in ("LGTM", "LBTM"):
            row[verdict.lower()] += 1
    totals = _blank()
    for row in per.values():
        for name in _COUNTS:
            totals[name] += row[name]
    return {
        "totals": totals,
        "per_llm": per,
        "not_compiling": not_compiling,
        "imports_unresolved": unresolved,
        "degraded": degraded,
    }


def _row_text(row: Mapping[str, int]) -> str:
    planned = f"planned {row['files_planned']}, " if row["files_planned"] else ""
    return (
        f"files {planned}written {row['files_written']}, compiling {row['files_compiling']}, "
        f"imports resolved {row['imports_resolved']}; reviews {row['lgtm']} LGTM / {row['lbtm']} LBTM; "
        f"repairs {row['repairs']}, re-asks {row['reasks']}, gate failures {row['gate_failures']}, "
        f"degraded {row['degraded']}"
    )


def quality_lines(quality: Mapping[str, Any] | None) -> list[str]:
    """The summary's quality lines: the totals, one line per LLM, then what does not hold up."""
    if not quality or not quality.get("per_llm"):
        return []
    lines = [f"quality: {_row_text(quality['totals'])}"]
    for llm, row in sorted(quality["per_llm"].items()):
        lines.append(f"  {llm} ({row['calls']} calls): {_row_text(row)}")
    if quality.get("not_compiling"):
        lines.append("not compiling: " + ", ".join(quality["not_compiling"]))
    if quality.get("imports_unresolved"):
        lines.append("imports not resolved: " + ", ".join(quality["imports_unresolved"]))
    if quality.get("degraded"):
        lines.append("degraded (simpler format, see docs/): " + ", ".join(quality["degraded"]))
    return lines
