"""Named responders (`echo`, `team`, `team:N`, a rules YAML file) -> the callable the server uses.

Apart from `responders.py` so that module never reaches up to `team_responder` (which builds on it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from polyteam.emulator.responders import ChatRequest, ResponderSpec, ScriptedResponder, echo


def _team(spec: str = "team") -> Callable[[ChatRequest], Any]:
    from polyteam.emulator.team_responder import make_team_responder  # only when a run asks for it

    return make_team_responder(spec)


#: named responders; values build the callable when asked (so `team` is imported only when used)
REGISTRY: dict[str, Callable[[], Callable[[ChatRequest], Any]]] = {
    "echo": lambda: echo,
    "team": _team,
}


def resolve_responder(spec: ResponderSpec) -> Callable[[ChatRequest], Any]:
    """A callable responder from a registry name, a YAML file path, or a callable (None: echo).

    Raises:
        ValueError: an unknown name or a file that is not a valid rule list.
    """
    if spec is None:
        return echo
    if callable(spec):
        return spec
    if spec in REGISTRY:
        return REGISTRY[spec]()
    if spec.startswith("team:"):  # team:N plans N source files
        return _team(spec)
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return ScriptedResponder.from_file(path)
    raise ValueError(f"--responder: unknown responder {spec!r}; use echo, team or a rules .yaml file")
