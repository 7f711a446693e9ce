"""`polyteam check [--ping]`: validate the configuration; with --ping, reach every routed endpoint.

Validation is `polyteam.config`'s, and a run's price check (`polyteam.budget.check_prices`: under
MAX_BUDGET an unpriced route is an error); a bad configuration raises ConfigError, which cli.py
prints one issue per line with exit status 2. The ping sends one tiny request per distinct endpoint,
through the gateway with one attempt and no fallback, so each line is about that endpoint alone.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import typer

from polyteam.redact import redact
from polyteam.routing import Route, Router

PING_TIMEOUT_S = 60.0
PING_PROMPT = "Reply with the single word: ok"


@dataclass(frozen=True)
class PingResult:
    route: Route
    ok: bool
    detail: str  # the reply's first words, or the error
    latency_s: float


def run(config_dir: Path | None = None, ping: bool = False, as_json: bool = False) -> None:
    """Print `ok`, or (with --ping) one line per endpoint; exit 1 if an endpoint cannot be reached.

    `as_json`: one JSON document on stdout instead (`polyteam.commands.check_json`), also for a
    bad configuration (its issues, exit 2)."""
    if as_json:
        from polyteam.commands.check_json import run_json

        run_json(config_dir, ping, load_checked, ping_all)
        return
    settings = load_checked(config_dir, os.environ)
    if not ping:
        print("ok")
        return
    results = asyncio.run(ping_all(settings.router))
    for result in results:
        endpoint = result.route.endpoint
        status = "ok  " if result.ok else "FAIL"
        where = f"{endpoint.kind} {endpoint.model} {endpoint.base_url}"
        print(redact(f"{status} {result.route.llm} ({where}) {result.latency_s:.2f}s: {result.detail}"))
    if not all(r.ok for r in results):
        raise typer.Exit(1)
    print("ok")


def load_checked(config_dir: Path | None, environ: Mapping[str, str]) -> Any:
    """The settings, checked as a run would check them before its first call: under MAX_BUDGET a
    route (or a fallback) to a model with no known price is a configuration error, as in `run`.

    Raises:
        ConfigError: a bad configuration, or an unpriced route under MAX_BUDGET.
    """
    from polyteam.budget import check_prices
    from polyteam.config import load_settings

    settings = load_settings(config_dir, environ)
    warning = check_prices(settings, settings.max_budget)
    if warning:
        print(warning, file=sys.stderr)
    return settings


def _ping_failure(route: Route, exc: Exception) -> str:
    """The error, with a fix when the server says the model does not exist (404): usually a retired id."""
    from polyteam.errors import ProviderError
    from polyteam.providers.kinds import BY_NAME

    if not isinstance(exc, ProviderError) or exc.status != 404:
        return str(exc)
    endpoint = route.endpoint
    spec = BY_NAME.get(endpoint.kind)
    builtin = spec is not None and spec.builtin and spec.model_key and endpoint.llm == spec.name
    where = f"{spec.model_key} / model:" if builtin and spec else f"model: under MODEL_LIST.{endpoint.llm}"
    return f"retired or unknown model {endpoint.model}; set {where} ({exc})"


async def ping_all(router: Router, timeout: float = PING_TIMEOUT_S) -> list[PingResult]:
    """Ping every distinct routed endpoint concurrently."""
    return list(await asyncio.gather(*(ping_route(route, timeout) for route in router.distinct_routes())))


async def ping_route(route: Route, timeout: float = PING_TIMEOUT_S) -> PingResult:
    """One tiny request to `route`'s endpoint alone: one attempt, no fallback, no budget."""
    from polyteam.errors import PolyteamError
    from polyteam.gateway import Gateway
    from polyteam.providers.base import CallOptions, Message

    alone = Router(default=replace(route.endpoint, fallback=()))
    gateway = Gateway(alone, meter=None, max_attempts=1)
    started = time.perf_counter()
    try:
        answer = await asyncio.wait_for(
            gateway.ask(route.role, route.action, [Message("user", PING_PROMPT)], CallOptions(max_tokens=8)),
            timeout,
        )
    except PolyteamError as exc:
        return PingResult(route, False, _ping_failure(route, exc), time.perf_counter() - started)
    except TimeoutError:
        return PingResult(route, False, f"no answer within {timeout:.0f}s", time.perf_counter() - started)
    finally:
        await gateway.aclose()
    words = " ".join(answer.completion.text.split()[:6]) or "(empty reply)"
    return PingResult(route, True, words, time.perf_counter() - started)
