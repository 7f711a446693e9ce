"""`polyteam run --json`: the run's summary as one JSON document on stdout.

`polyteam.commands.run` runs the team with the live display off and calls `print_summary_json`;
the exit status and the stderr lines (budget stop, failure, resume hint) are unchanged. The
document holds the RunSummary's fields and, when the project has a ledger, the cost report of
`polyteam report --json` under "report". Every string passes through `polyteam.redact`.
"""

from __future__ import annotations

import json
from typing import Any

from polyteam.redact import redact_obj


def summary_json(summary: Any) -> dict[str, Any]:
    """The JSON document of one run's summary (a `polyteam.team.RunSummary`)."""
    from polyteam.errors import PolyteamError
    from polyteam.report import build_report

    try:
        report: dict[str, Any] | None = build_report(summary.project_path)
    except PolyteamError:  # no ledger yet: nothing was called
        report = None
    return {
        "project": str(summary.project_path),
        "status": summary.status,
        "ok": summary.status == "done",
        "error": summary.error or None,
        "elapsed_s": round(summary.elapsed_s, 3),
        "session_s": round(getattr(summary, "session_s", summary.elapsed_s), 3),
        "resumed": summary.resumed,
        "already_done": getattr(summary, "already_done", False),
        "cached": summary.cached,
        "calls_by_llm": dict(summary.calls_by_llm),
        "tokens_by_llm": {
            llm: {"input": pair[0], "output": pair[1]} for llm, pair in summary.tokens_by_llm.items()
        },
        "cost_usd": summary.cost_usd,
        "budget_usd": summary.budget_usd,
        "stats": dict(summary.stats),
        "quality": dict(getattr(summary, "quality", None) or {}),
        "written": list(summary.written),
        "skipped": [{"file": name, "why": why} for name, why in summary.skipped],
        "kept": [{"file": name, "new_version": beside} for name, beside in getattr(summary, "kept", [])],
        "notes": list(summary.notes),
        "report": report,
    }


def print_summary_json(summary: Any) -> None:
    from polyteam.terminal import json_printable  # no raw C1 control or bidi override on a terminal

    print(json_printable(json.dumps(redact_obj(summary_json(summary)), indent=2, ensure_ascii=False)))
