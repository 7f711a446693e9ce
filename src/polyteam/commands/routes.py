"""`polyteam routes`: every Role/Action -> LLM, provider, wire model, base URL, why, and its price.

Prices are USD per million input/output tokens with their source (`config`, `genai-prices <version>`,
`built-in <date>`, `local`, `unpriced`), from `polyteam.prices` (DESIGN §4, §5).

Resolution is `polyteam.routing`'s; this module loads the settings and renders (rich table or
the JSON document of DESIGN §5). Keys are never shown: endpoints hold them as SecretStr and
every string passes through `polyteam.redact`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from polyteam.redact import redact_obj


def run(config_dir: Path | None = None, as_json: bool = False) -> None:
    """Print the resolved routes. Raises ConfigError (exit 2 in cli.py) when the configuration is bad."""
    from polyteam.config import load_settings

    settings = load_settings(config_dir, os.environ)
    document = redact_obj(_with_prices(settings.router.explain(), settings))
    if as_json:
        print(json.dumps(document, indent=2))
        return
    fallbacks = {r.llm: r.endpoint.fallback for r in settings.router.all_routes()}
    _render(document, fallbacks, bundled=settings.router.default_is_bundled)


def _with_prices(document: dict[str, Any], settings: Any) -> dict[str, Any]:
    """Each route (and the default) with its price per million tokens and its source (issue 11)."""
    from polyteam.prices import price_for

    router, prices = settings.router, getattr(settings, "prices", None)
    document["default"]["price"] = price_for(router.default, prices).to_json()
    for entry, route in zip(document["routes"], router.all_routes(), strict=True):
        entry["price"] = price_for(route.endpoint, prices).to_json()
    return document


#: the price columns: USD per million input/output tokens and where the price came from
PRICE_COLUMNS = ("In $/M", "Out $/M", "Price from")


def _price_cells(route: dict[str, Any]) -> tuple[str, str, str]:
    price = route.get("price") or {"input": "", "output": "", "source": ""}
    if price["source"] == "unpriced":
        return "?", "?", "unpriced"
    if price["source"] == "":
        return "", "", ""
    return f"{price['input']:g}", f"{price['output']:g}", str(price["source"])


def _render(document: dict, fallbacks: dict[str, tuple[str, ...]], *, bundled: bool) -> None:
    from rich.console import Console

    console = Console(soft_wrap=False)
    default = document["default"]
    note = " (the bundled tiny model, run in-process: no key needed)" if bundled else ""
    console.print(
        f"routing [bold]{document['routing']}[/bold]; default LLM [bold]{default['llm']}[/bold] "
        f"({default['provider']}, {default['model']}){note}",
        markup=True,
        highlight=False,
    )
    for table in route_tables(document, fallbacks, console.width):
        console.print(table)


def route_tables(document: dict, fallbacks: dict[str, tuple[str, ...]], width: int) -> list[Any]:
    """One table of every route, when it fits `width`; else ones that fit 80 columns: the routes
    (Role, Action, LLM, Why), the endpoints they name (LLM, Provider, Model, Base URL) and, when
    the document has prices, each endpoint's price per million tokens and its source."""
    from rich.console import Console
    from rich.table import Table

    priced = any("price" in r for r in document["routes"])
    prices = PRICE_COLUMNS if priced else ()
    chain = {r["llm"]: " -> ".join([r["llm"], *fallbacks.get(r["llm"], ())]) for r in document["routes"]}
    wide = Table(show_lines=False)
    for column in ("Role", "Action", "LLM (-> fallback)", "Provider", "Model", "Base URL", "Why", *prices):
        wide.add_column(column, no_wrap=True)
    for r in document["routes"]:
        base = r["base_url"] or "(started by polyteam)"
        cells = _price_cells(r) if priced else ()
        wide.add_row(
            r["role"], r["action"], chain[r["llm"]], r["provider"], r["model"], base, r["source"], *cells
        )
    if Console(width=10_000).measure(wide).maximum <= width:
        return [wide]
    routes = Table(title="Routes", title_justify="left", show_lines=False)
    for column in ("Role", "Action", "LLM (-> fallback)", "Why"):
        routes.add_column(column, overflow="fold")
    endpoints = Table(title="Endpoints", title_justify="left", show_lines=False)
    for column in ("LLM", "Provider", "Model", "Base URL"):
        endpoints.add_column(column, overflow="fold")
    price_table = Table(title="Prices (USD per million tokens)", title_justify="left", show_lines=False)
    for column in ("LLM", *PRICE_COLUMNS):
        price_table.add_column(column, overflow="fold")
    seen: set[str] = set()
    for r in document["routes"]:
        routes.add_row(r["role"], r["action"], chain[r["llm"]], r["source"])
        if r["llm"] not in seen:
            seen.add(r["llm"])
            endpoints.add_row(r["llm"], r["provider"], r["model"], r["base_url"] or "(started by polyteam)")
            price_table.add_row(r["llm"], *_price_cells(r))
    return [routes, endpoints, price_table] if priced else [routes, endpoints]
