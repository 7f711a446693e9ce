"""What genai-prices answered for a model, remembered on disk per installed version (issue 15).

`import genai_prices` costs 130-170 ms of CPU (its price table is a Python module; it also pulls
`importlib.metadata` and an HTTP client for its optional updater), and a run needs a price before
its first request (the budget check and the ledger's `started` line). Its answers change only with
its version, so they are kept in one small JSON file per installed version:
`genai-prices-<version>.json` in `$POLYTEAM_CACHE_DIR`, else `$XDG_CACHE_HOME/polyteam/`, else
`~/.cache/polyteam/`. A model genai-prices does not know is remembered too (as null).

Nothing in the file is trusted beyond its shape: a missing, unreadable or malformed file is read as
empty, an entry that is not a finite price >= 0 with a provider id is ignored (genai-prices is asked
again and the file rewritten), and a file that cannot be written is left alone. Without a version to
name the file by (genai-prices not installed as a distribution), nothing is cached.

Leaves to others: which price applies (`polyteam.prices`), costing tokens at it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_DIST = "genai_prices"


@dataclass(frozen=True)
class GenaiPrice:
    """genai-prices' base rates for a model (USD per million tokens), the provider id it priced it
    under, and whether those rates are all there is (no tiers, no fee per request)."""

    input: float
    output: float
    provider: str
    flat: bool


class Unknown:
    """Not in the cache: ask genai-prices."""


UNKNOWN = Unknown()
_lock = threading.Lock()
_memo: dict[str, dict[str, Any]] = {}  # file path -> its entries, as read (and added to) this process


@cache
def installed_version() -> str | None:
    """genai-prices' installed version, read from its distribution's folder name (no import), or None."""
    from importlib.util import find_spec

    try:
        spec = find_spec(_DIST)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    site = Path(spec.origin).resolve().parent.parent
    found = sorted(site.glob(f"{_DIST}-*.dist-info"))
    if len(found) != 1:  # none, or several: which one is imported is not known here
        return None
    return found[0].name[len(_DIST) + 1 : -len(".dist-info")] or None


def cache_dir() -> Path:
    """Where the memo lives (module docstring)."""
    explicit = os.environ.get("POLYTEAM_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "polyteam"


def _path() -> Path | None:
    version = installed_version()
    return cache_dir() / f"genai-prices-{version}.json" if version else None


def _entries(path: Path) -> dict[str, Any]:
    """The file's entries (read once per process; `_lock` held)."""
    if str(path) not in _memo:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        _memo[str(path)] = data if isinstance(data, dict) else {}
    return _memo[str(path)]


def _valid(entry: Any) -> GenaiPrice | None | Unknown:
    if entry is None:
        return None  # genai-prices does not know the model
    if not isinstance(entry, dict):
        return UNKNOWN
    rates = entry.get("input"), entry.get("output")
    provider, flat = entry.get("provider"), entry.get("flat")
    if not all(isinstance(r, (int, float)) and not isinstance(r, bool) and math.isfinite(r) and r >= 0
               for r in rates):  # fmt: skip
        return UNKNOWN
    if not isinstance(provider, str) or not provider or not isinstance(flat, bool):
        return UNKNOWN
    return GenaiPrice(float(rates[0]), float(rates[1]), provider, flat)


def lookup(key: str) -> GenaiPrice | None | Unknown:
    """The remembered answer for `key`: a price, None (genai-prices does not know it) or UNKNOWN."""
    path = _path()
    if path is None:
        return UNKNOWN
    with _lock:
        entries = _entries(path)
        return _valid(entries[key]) if key in entries else UNKNOWN


def remember(key: str, answer: GenaiPrice | None) -> None:
    """Keep genai-prices' answer for `key` (atomically; a file that cannot be written is skipped)."""
    path = _path()
    if path is None:
        return
    from polyteam.atomic import atomic_write_text

    with _lock:
        entries = _entries(path)
        entries[key] = None if answer is None else answer.__dict__.copy()
        text = json.dumps(entries, indent=1, sort_keys=True) + "\n"
        with contextlib.suppress(OSError):
            atomic_write_text(path, text, durable=False)
