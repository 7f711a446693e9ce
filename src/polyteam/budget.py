"""The run's budget before the first call: a valid amount, which one applies, every route priced.

- `checked_budget`: a budget is a finite amount of USD > 0 (NaN, infinity, 0 and negatives would
  switch the cap off or stop everything; they are usage errors, exit 2);
- `resolve_budget`: `--budget` if given, else the budget the run was started with (saved in its
  state), else `MAX_BUDGET`;
- `check_prices`: with a budget, a route (or a fallback) to a hosted model with no known price is a
  configuration error before any network attempt; without one, a one-line warning.

The meter that enforces the cap is `polyteam.cost`; prices are `polyteam.prices`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from polyteam.errors import ConfigError, ConfigIssue, UsageError
from polyteam.providers.base import Endpoint

#: LLM names that are config.yaml providers, not MODEL_LIST entries
_BUILT_IN_LLMS = frozenset({"openai", "claude", "spark", "zhipu", "open_llm"})


def checked_budget(value: Any, key: str = "--budget", file: str = "polyteam run") -> float | None:
    """`value` as a budget in USD (None: no budget).

    Raises:
        UsageError: `--budget` is not a finite number > 0.
        ConfigError: another key (MAX_BUDGET, a saved budget) is not.
    """
    if value is None:
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    if number is None or not math.isfinite(number) or number <= 0:
        problem, fix = f"{value!r} is not an amount of USD > 0", f"set {key} to USD, e.g. 0.50"
        if key == "--budget":  # a flag, not a file: a usage error (exit 2 as well)
            raise UsageError(file, key, problem, "pass USD, e.g. --budget 0.50")
        raise ConfigError([ConfigIssue(file, key, problem, fix)])
    return number


def resolve_budget(given: float | None, saved: Any, max_budget: float | None) -> tuple[float | None, str]:
    """(the budget that applies, where it came from: "--budget", "saved", "MAX_BUDGET" or "")."""
    if given is not None:
        return checked_budget(given), "--budget"
    if saved is not None:
        return checked_budget(saved, "settings.budget_usd", "state.json"), "saved"
    if max_budget is not None:
        return checked_budget(max_budget, "MAX_BUDGET", "config.yaml"), "MAX_BUDGET"
    return None, ""


def unpriced_issue(actions: str, endpoint: Endpoint) -> ConfigIssue:
    """`WriteCode: routes to deepseek-chat at api.deepseek.com, which has no known price; add …`."""
    from polyteam.prices import host_of

    where = host_of(endpoint.base_url)
    problem = f"routes to {endpoint.model} at {where}, which has no known price"
    if endpoint.llm in _BUILT_IN_LLMS:
        return ConfigIssue(
            "config.yaml",
            actions or endpoint.llm,
            problem,
            f"add PRICES: {{{endpoint.model}: {{input: …, output: …}}}}, or run without a budget",
        )
    return ConfigIssue(
        "multi_llm_config.yaml",
        actions or endpoint.llm,
        problem,
        f"add price: {{input: …, output: …}} under MODEL_LIST.{endpoint.llm}, or run without a budget",
    )


def unpriced_routes(router: Any, prices: Mapping[str, Any] | None) -> list[tuple[str, Endpoint]]:
    """(the actions routed there, endpoint) for every unpriced LLM a route or its fallbacks reach."""
    from polyteam.prices import price_for

    found: dict[str, tuple[list[str], Endpoint]] = {}
    for route in router.all_routes():
        llms = [route.llm, *route.endpoint.fallback]
        for llm in dict.fromkeys(llms):
            endpoint = route.endpoint if llm == route.llm else router.endpoint(llm)
            if llm not in found and not price_for(endpoint, prices).unpriced:
                continue
            actions, _ = found.setdefault(llm, ([], endpoint))
            if route.action not in actions:
                actions.append(route.action)
    return [(", ".join(actions), endpoint) for actions, endpoint in found.values()]


def check_prices(settings: Any, budget: float | None) -> str | None:
    """Before the first call: an error under a budget, else the warning line to print (or None).

    Raises:
        ConfigError: a budget is set and some route reaches a model with no known price.
    """
    router = getattr(settings, "router", None)
    if router is None or not hasattr(router, "all_routes"):
        return None
    unpriced = unpriced_routes(router, getattr(settings, "prices", None))
    if not unpriced:
        return None
    if budget is not None:
        raise ConfigError([unpriced_issue(actions, endpoint) for actions, endpoint in unpriced])
    names = ", ".join(f"{ep.model} at {_host(ep)}" for _, ep in unpriced)
    return (
        f"polyteam: warning: no known price for {names}: counted as $0 "
        "(add price: under its MODEL_LIST entry or PRICES: in config.yaml)"
    )


def _host(endpoint: Endpoint) -> str:
    from polyteam.prices import host_of

    return host_of(endpoint.base_url)


def stop_detail(error: str) -> str:
    """What a budget stop's message says was spent and reserved (`spent $X, $Y reserved by N …`)."""
    _, found, rest = error.partition(" reached: ")
    return rest if found else (error or "no further call fits")
