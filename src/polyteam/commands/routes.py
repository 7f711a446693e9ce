"""`polyteam routes`: every Role/Action -> LLM, provider, wire model, base URL and why (DESIGN §5).

Resolution is `polyteam.routing`'s; this module loads the settings and renders (rich table or
the JSON document of DESIGN §5). Keys are never shown: endpoints hold them as SecretStr and
every string passes through `polyteam.redact`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from polyteam.redact import redact_obj


def run(config_dir: Path | None = None, as_json: bool = False) -> None:
    """Print the resolved routes. Raises ConfigError (exit 2 in cli.py) when the configuration is bad."""
    from polyteam.config import load_settings

    settings = load_settings(config_dir, os.environ)
    document = redact_obj(settings.router.explain())
    if as_json:
        print(json.dumps(document, indent=2))
        return
    fallbacks = {r.llm: r.endpoint.fallback for r in settings.router.all_routes()}
    _render(document, fallbacks, bundled=settings.router.default_is_bundled)


def _render(document: dict, fallbacks: dict[str, tuple[str, ...]], *, bundled: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False, width=max(Console().width, 220))
    default = document["default"]
    note = " (the bundled tiny model, run in-process: no key needed)" if bundled else ""
    console.print(
        f"routing [bold]{document['routing']}[/bold]; default LLM [bold]{default['llm']}[/bold] "
        f"({default['provider']}, {default['model']}){note}",
        markup=True,
        highlight=False,
    )
    table = Table(show_lines=False)
    for column in ("Role", "Action", "LLM (-> fallback)", "Provider", "Model", "Base URL", "Why"):
        table.add_column(column, overflow="fold")
    for route in document["routes"]:
        table.add_row(
            route["role"],
            route["action"],
            " -> ".join([route["llm"], *fallbacks.get(route["llm"], ())]),
            route["provider"],
            route["model"],
            route["base_url"] or "(started by polyteam)",
            route["source"],
        )
    console.print(table)
