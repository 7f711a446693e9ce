"""`polyteam check --json [--ping]`: the check's result as one JSON document on stdout.

The checking is `polyteam.commands.check`'s (validation by `polyteam.config`, the ping by
`ping_all`); this module only shapes the document, so a script can tell a bad configuration
(`"ok": false` with its issues, exit 2) from an unreachable endpoint (exit 1). Every string
passes through `polyteam.redact`; endpoints never carry their keys here.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import typer

from polyteam.errors import ConfigError
from polyteam.redact import redact_obj


def _endpoint(route: Any) -> dict[str, Any]:
    endpoint = route.endpoint
    return {
        "llm": route.llm,
        "provider": endpoint.kind,
        "model": endpoint.model,
        "base_url": endpoint.base_url,
    }


def run_json(
    config_dir: Path | None,
    ping: bool,
    load_settings: Callable[..., Any],
    ping_all: Callable[[Any], Coroutine[Any, Any, list[Any]]],
) -> None:
    """Print the document; exit 2 for a bad configuration, 1 when a pinged endpoint failed.

    Raises:
        typer.Exit: 1 or 2 (after printing the document).
    """
    try:
        settings = load_settings(config_dir, os.environ)
    except ConfigError as exc:
        issues = [{"file": i.file, "key": i.key, "problem": i.problem, "fix": i.fix} for i in exc.issues]
        _print({"ok": False, "issues": issues})
        raise typer.Exit(2) from None
    document: dict[str, Any] = {"ok": True, "issues": []}
    if not ping:
        document["endpoints"] = [_endpoint(route) for route in settings.router.distinct_routes()]
        _print(document)
        return
    results = asyncio.run(ping_all(settings.router))
    document["endpoints"] = [
        {
            **_endpoint(r.route),
            "ok": r.ok,
            "latency_s": round(r.latency_s, 3),
            "detail": r.detail,
        }
        for r in results
    ]
    document["ok"] = all(r.ok for r in results)
    _print(document)
    if not document["ok"]:
        raise typer.Exit(1)


def _print(document: dict[str, Any]) -> None:
    print(json.dumps(redact_obj(document), indent=2, ensure_ascii=False))
