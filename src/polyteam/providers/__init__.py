"""Providers: one module per wire protocol, and the one table mapping config kinds onto them.

Each module is imported only when an endpoint of its kind is used, so importing polyteam
never loads an SDK. Provider modules own their clients; `polyteam.gateway` owns the
instances (one per endpoint) and closes them.
"""

from __future__ import annotations

from importlib import import_module

from polyteam.providers.base import Endpoint, Provider

#: config kind -> (module, class); the only place a kind name maps onto code
PROVIDER_CLASSES: dict[str, tuple[str, str]] = {
    "openai": ("polyteam.providers.openai", "OpenAIProvider"),
    "open_llm": ("polyteam.providers.openai", "OpenAIProvider"),
    "claude": ("polyteam.providers.anthropic", "AnthropicProvider"),
    "zhipu": ("polyteam.providers.zhipu", "ZhipuProvider"),
    "spark": ("polyteam.providers.spark", "SparkProvider"),
    "local": ("polyteam.providers.local", "LocalProvider"),
}


def make_provider(endpoint: Endpoint) -> Provider:
    """A new provider (with its own client) for `endpoint`.

    Raises: ValueError for a kind no module serves (config validation rejects those first).
    """
    try:
        module_name, class_name = PROVIDER_CLASSES[endpoint.kind]
    except KeyError:
        raise ValueError(
            f"no provider for kind {endpoint.kind!r}; known: {', '.join(PROVIDER_CLASSES)}"
        ) from None
    provider_class = getattr(import_module(module_name), class_name)
    return provider_class(endpoint)


__all__ = ["PROVIDER_CLASSES", "Endpoint", "Provider", "make_provider"]
