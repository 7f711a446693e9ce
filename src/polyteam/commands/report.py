"""`polyteam report PROJECT [--json | --html FILE]`: render `polyteam.report.build_report`.

A missing or empty ledger is a usage error: `build_report` raises UsageError (one line naming
the file and the fix), which `polyteam.cli.main` turns into exit status 2.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def run(*, project: Path, as_json: bool = False, html: Path | None = None) -> None:
    """Print the project's cost report, as tables or JSON, and optionally write the HTML page."""
    from rich.console import Console

    from polyteam.report import build_report, rich_tables, summary_lines

    report = build_report(project)
    # piped or redirected output gets room for whole names (WriteCode vs WriteCodeReview), not 80 columns
    console = Console() if sys.stdout.isatty() else Console(width=160)
    if html is not None:
        from polyteam.report_html import render_html

        html = Path(html)
        html.parent.mkdir(parents=True, exist_ok=True)
        tmp = html.with_name(f".{html.name}.{os.getpid()}.tmp")
        tmp.write_text(render_html(report), encoding="utf-8")
        os.replace(tmp, html)
    if as_json:
        print(json.dumps(report, indent=2))
        return
    if html is None:  # with --html the page holds the tables; the terminal gets the summary
        for table in rich_tables(report):
            console.print(table)
    for line in summary_lines(report):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if html is not None:
        console.print(f"wrote {html}", markup=False, highlight=False)
