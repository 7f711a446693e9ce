"""`${NAME}` and `os.environ/NAME` in configuration values, read from the environment.

Compose-style configs write `api_key: ${DEEPSEEK_API_KEY}`, LiteLLM-style ones
`api_key: os.environ/DEEPSEEK_API_KEY` (provider-quirks.md). Every string value of both files may use
either; a variable that is not set is one issue naming it. The values are secrets: the caller registers
them with `polyteam.redact`, and no message here contains one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from polyteam.errors import ConfigIssue

_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LITELLM = re.compile(r"^\s*os\.environ/([A-Za-z_][A-Za-z0-9_]*)\s*$")
#: deeper than any real configuration; deeper data is left as it is (the loader caps depth already)
_MAX_DEPTH = 64


@dataclass
class Expansion:
    issues: list[ConfigIssue] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)


def expand(data: Any, environ: Mapping[str, str], label: str) -> tuple[Any, Expansion]:
    """`data` with every reference replaced by its variable's value; issues for unset variables."""
    result = Expansion()
    return _walk(data, environ, label, "", result, 0), result


def _walk(data: Any, environ: Mapping[str, str], label: str, where: str, out: Expansion, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return data
    if isinstance(data, dict):
        return {
            k: _walk(v, environ, label, f"{where}.{k}" if where else str(k), out, depth + 1)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_walk(v, environ, label, where, out, depth + 1) for v in data]
    if isinstance(data, str) and ("$" in data or "os.environ/" in data):
        return _string(data, environ, label, where, out)
    return data


def _string(text: str, environ: Mapping[str, str], label: str, where: str, out: Expansion) -> str:
    names: list[str]
    litellm = _LITELLM.match(text)
    names = [litellm.group(1)] if litellm else _BRACED.findall(text)
    missing = [n for n in names if not environ.get(n)]
    for name in missing:
        out.issues.append(
            ConfigIssue(
                label,
                where,
                f"refers to the environment variable {name}, which is not set",
                f"export {name}=…",
            )
        )
    if missing or not names:
        return text
    for name in names:
        out.secrets.append(environ[name])
    if litellm:
        return environ[litellm.group(1)]
    return _BRACED.sub(lambda m: environ[m.group(1)], text)
