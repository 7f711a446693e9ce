"""Role/Action -> LLM resolution and its explanation (DESIGN §2).

STUB: the configuration helper owns this module. The shapes below are the contract the
gateway, the team and the CLI rely on; keep them (add fields freely).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from polyteam.providers.base import Endpoint

RouteSource = Literal["action", "role", "default"]


@dataclass(frozen=True)
class Route:
    role: str
    action: str
    llm: str
    source: RouteSource
    endpoint: Endpoint


class Router:
    """Resolved routing for one configuration. Built by `polyteam.config.load_settings`."""

    routing_on: bool
    default: Endpoint

    def route(self, role: str, action: str) -> Route:
        """The route of one (Role, Action) pair: action entry, else role entry, else default."""
        raise NotImplementedError

    def endpoint(self, llm: str) -> Endpoint:
        """The endpoint of an LLM name (a provider name or a MODEL_LIST key); for fallback chains."""
        raise NotImplementedError

    def all_routes(self) -> list[Route]:
        """Every (Role, Action) pair of the standard team, resolved."""
        raise NotImplementedError
