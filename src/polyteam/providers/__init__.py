"""Providers: one module per wire protocol, and the one table mapping config kinds onto them.

Each module is imported only when an endpoint of its kind is used, so importing polyteam
never loads an SDK. Provider modules own their clients; `polyteam.gateway` owns the
instances (one per endpoint) and closes them.
"""

from __future__ import annotations

from importlib import import_module

from polyteam.errors import ConfigError, ConfigIssue
from polyteam.providers.base import Endpoint, Provider
from polyteam.providers.kinds import SPECS

#: config kind -> (module, class), read off the kinds' specs (`polyteam.providers.kinds`)
PROVIDER_CLASSES: dict[str, tuple[str, str]] = {s.name: (s.module, s.cls) for s in SPECS}


def make_provider(endpoint: Endpoint) -> Provider:
    """A new provider (with its own client) for `endpoint`.

    Raises:
        ConfigError: a kind no module serves (config validation rejects those first).
    """
    try:
        module_name, class_name = PROVIDER_CLASSES[endpoint.kind]
    except KeyError:
        issue = ConfigIssue(
            "routing",
            endpoint.llm,
            f"no provider serves kind {endpoint.kind!r}",
            f"use one of {', '.join(PROVIDER_CLASSES)}",
        )
        raise ConfigError([issue]) from None
    provider_class = getattr(import_module(module_name), class_name)
    return provider_class(endpoint)


__all__ = ["PROVIDER_CLASSES", "Endpoint", "Provider", "make_provider"]
