"""`polyteam report PROJECT [--json | --html FILE]`: render `polyteam.report.build_report`.

A missing or empty ledger is a usage error: `build_report` raises UsageError (one line naming
the file and the fix), which `polyteam.cli.main` turns into exit status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from polyteam.errors import UsageError


def write_html(path: Path, page: str) -> None:
    """Write the HTML page atomically; its folder must exist (it is never created).

    Raises:
        UsageError: a folder, a missing folder or an unwritable path (one line, exit 2).
    """
    from polyteam.atomic import atomic_write_text

    if path.is_dir():
        raise UsageError("polyteam report", "--html", f"{path} is a folder", "name a file in it")
    try:
        atomic_write_text(path, page, make_parents=False)
    except OSError as exc:
        problem = f"cannot write {path}: {exc.strerror or type(exc).__name__}"
        raise UsageError("polyteam report", "--html", problem, "name a file in a writable folder") from None


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
        write_html(html, render_html(report))
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
