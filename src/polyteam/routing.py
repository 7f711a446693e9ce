"""Role/Action -> LLM resolution and its explanation (DESIGN §2).

Owns the resolution rule (the Action's entry, else the Role's entry unless
`INHERIT_ROLE_LLM: false`, else the default), the provider names and their tolerated
spellings (read off `polyteam.providers.kinds`), and the `routes` document of DESIGN §5. Reading and validating the files is
`polyteam.config`'s job: a `Router` is only ever built from a configuration that validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from polyteam.errors import ConfigError, ConfigIssue
from polyteam.providers.base import Endpoint
from polyteam.providers.kinds import BUILTIN, provider_name
from polyteam.roster import role_pairs

RouteSource = Literal["action", "role", "default"]

#: the built-in LLM names, in the order the default is chosen (DESIGN §2); from the provider specs
PROVIDER_NAMES: tuple[str, ...] = tuple(s.name for s in BUILTIN)

__all__ = ["PROVIDER_NAMES", "Route", "Router", "provider_name", "resolve_route"]


@dataclass(frozen=True)
class Route:
    role: str
    action: str
    llm: str
    source: RouteSource
    endpoint: Endpoint


def resolve_route(
    entries: Mapping[str, str], role: str, action: str, *, inherit_role_llm: bool = True
) -> tuple[str, RouteSource] | None:
    """The LLM name and why, for one (Role, Action) pair; None means "use the default"."""
    if action in entries:
        return entries[action], "action"
    if inherit_role_llm and role in entries:
        return entries[role], "role"
    return None


@dataclass(frozen=True, eq=False)
class Router:
    """Resolved routing for one configuration. Built by `polyteam.config.load_settings`.

    `entries` maps Role and Action names to LLM names (already canonical); `endpoints` maps
    every LLM name that can be used (complete providers and MODEL_LIST entries) to its endpoint.
    """

    default: Endpoint
    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)
    entries: Mapping[str, str] = field(default_factory=dict)
    routing_on: bool = False
    inherit_role_llm: bool = True
    #: the default is the bundled SmolLM2 run in-process (no key configured); `run` says so
    default_is_bundled: bool = False

    def route(self, role: str, action: str) -> Route:
        """The route of one (Role, Action) pair: action entry, else role entry, else default."""
        found = resolve_route(self.entries, role, action, inherit_role_llm=self.inherit_role_llm)
        if found is None:
            return Route(role, action, self.default.llm, "default", self.default)
        llm, source = found
        return Route(role, action, llm, source, self.endpoint(llm))

    def endpoint(self, llm: str) -> Endpoint:
        """The endpoint of an LLM name (a provider name or a MODEL_LIST key); for fallback chains.

        Raises:
            ConfigError: the name is not configured.
        """
        if llm in self.endpoints:
            return self.endpoints[llm]
        canonical = provider_name(llm)
        if canonical is not None and canonical in self.endpoints:
            return self.endpoints[canonical]
        if llm == self.default.llm or (canonical is not None and canonical == self.default.llm):
            return self.default
        names = ", ".join(sorted(self.llm_names()))
        raise ConfigError([ConfigIssue("routing", llm, "unknown or unconfigured LLM", f"use one of {names}")])

    def llm_names(self) -> list[str]:
        """Every LLM name this configuration can call."""
        names = list(self.endpoints)
        if self.default.llm not in self.endpoints:
            names.append(self.default.llm)
        return names

    def chain(self, llm: str) -> list[str]:
        """`llm` followed by its fallbacks, depth first, each name once."""
        order: list[str] = []
        stack = [llm]
        while stack:
            name = stack.pop(0)
            if name in order:
                continue
            order.append(name)
            stack = [*self.endpoint(name).fallback, *stack]
        return order

    def all_routes(self) -> list[Route]:
        """Every (Role, Action) pair of the standard team, resolved."""
        return [self.route(role, action) for role, action in role_pairs()]

    def distinct_routes(self) -> list[Route]:
        """One route per distinct endpoint (kind, base URL, model), in pipeline order."""
        seen: set[tuple[str, str, str]] = set()
        routes: list[Route] = []
        for route in self.all_routes():
            if route.endpoint.key not in seen:
                seen.add(route.endpoint.key)
                routes.append(route)
        return routes

    def explain(self) -> dict[str, Any]:
        """The `polyteam routes --json` document (DESIGN §5); never a key."""
        return {
            "routing": "on" if self.routing_on else "off",
            "default": _describe(self.default),
            "routes": [
                {"role": r.role, "action": r.action, **_describe(r.endpoint, llm=r.llm), "source": r.source}
                for r in self.all_routes()
            ],
        }


def _describe(endpoint: Endpoint, llm: str | None = None) -> dict[str, str]:
    return {
        "llm": llm or endpoint.llm,
        "provider": endpoint.kind,
        "model": endpoint.model,
        "base_url": endpoint.base_url,
    }
