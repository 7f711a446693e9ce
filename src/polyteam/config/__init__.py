"""Configuration: `config.yaml` (credentials, defaults) and `multi_llm_config.yaml` (routing).

    settings = load_settings(config_dir=None, environ=os.environ)   # raises ConfigError
    settings.router        -> polyteam.routing.Router
    settings.max_budget    -> float | None       (MAX_BUDGET, USD per run)
    settings.prices        -> dict[str, Price]   (PRICES: map in config.yaml, model -> price)
    settings.code_review_k -> int                (CODE_REVIEW_K, default 1)
    settings.config_dir    -> Path | None        (where the files were found)
    settings.values        -> dict[str, str]     (effective non-secret config.yaml values)

Modules: `loading` finds and parses the files, `schema` holds their shapes, `credentials`
reads config.yaml + environment, `model_list` builds MODEL_LIST endpoints, `validate` checks
everything in one pass, `local` probes for the bundled GGUF model.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from polyteam.config.loading import ConfigFiles, find_config_dir, read_config_files
from polyteam.config.local import LocalSupport, probe_local
from polyteam.config.schema import SECRET_KEYS
from polyteam.config.validate import resolve, validate
from polyteam.errors import ConfigError
from polyteam.providers.base import Price
from polyteam.redact import redact, register_secret
from polyteam.routing import Router

__all__ = [
    "ConfigFiles",
    "LocalSupport",
    "Settings",
    "find_config_dir",
    "load_settings",
    "probe_local",
    "read_config_files",
    "validate",
]


@dataclass(frozen=True, eq=False)
class Settings:
    """A validated configuration."""

    router: Router
    max_budget: float | None = None
    prices: dict[str, Price] = field(default_factory=dict)
    code_review_k: int = 1
    config_dir: Path | None = None
    #: effective config.yaml values after environment overrides, secrets left out
    values: dict[str, str] = field(default_factory=dict)
    inherit_role_llm: bool = True
    #: one line each: MetaGPT settings not used, forms read leniently, the folder used
    warnings: tuple[str, ...] = ()


def _to_stderr(line: str) -> None:
    print(f"polyteam: warning: {line}", file=sys.stderr)


def load_settings(
    config_dir: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    probe: Callable[[], LocalSupport] = probe_local,
    on_warning: Callable[[str], None] | None = _to_stderr,
) -> Settings:
    """Find, read and validate the configuration; register every secret it holds with `polyteam.redact`.

    `probe` says whether the bundled GGUF model and xllamacpp are installed (injectable for tests).
    `on_warning` receives each warning line (default: stderr; None: only `Settings.warnings`).

    Raises:
        ConfigError: with every problem found, in one pass.
    """
    env = os.environ if environ is None else environ
    files = read_config_files(None if config_dir is None else Path(config_dir), env)
    resolution = resolve(files, env, probe)
    for secret in resolution.secrets:
        register_secret(secret)
    if resolution.issues or resolution.router is None:
        raise ConfigError(resolution.issues)
    warnings = tuple(redact(str(w)) for w in resolution.warnings)
    if on_warning is not None:
        for line in warnings:
            on_warning(line)
    values = resolution.values
    return Settings(
        router=resolution.router,
        max_budget=values.max_budget,
        prices=dict(values.prices),
        code_review_k=values.code_review_k,
        config_dir=files.config_dir,
        values={k: v for k, v in values.strings.items() if k not in SECRET_KEYS},
        inherit_role_llm=resolution.inherit_role_llm,
        warnings=warnings,
    )
