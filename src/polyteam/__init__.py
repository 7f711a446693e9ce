"""polyteam: a small AI software team where every Role and every Action runs on its own LLM.

The public API, imported on first use so that `import polyteam` (and the CLI) start fast:

    from polyteam import Team, load_settings
    settings = load_settings("config")                       # raises ConfigError
    project, summary = Team.standard(settings).run("a command-line snake game")
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "Team": "polyteam.team",
    "RunSummary": "polyteam.team",
    "load_settings": "polyteam.config",
    "Settings": "polyteam.config",
    "Router": "polyteam.routing",
    "Route": "polyteam.routing",
    "Gateway": "polyteam.gateway",
    "Answer": "polyteam.gateway",
    "Endpoint": "polyteam.providers.base",
    "Message": "polyteam.providers.base",
    "CallOptions": "polyteam.providers.base",
    "Completion": "polyteam.providers.base",
    "build_report": "polyteam.report",
    "Emulator": "polyteam.emulator",
    "PolyteamError": "polyteam.errors",
    "ConfigError": "polyteam.errors",
    "UsageError": "polyteam.errors",
    "FallbackExhaustedError": "polyteam.errors",
    "ProviderError": "polyteam.errors",
    "BudgetExceededError": "polyteam.errors",
    "MalformedReplyError": "polyteam.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:  # PEP 562: import the defining module on first use
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'polyteam' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
