"""Forms users paste that are unambiguous though not what DESIGN §2 writes: read them, with one warning.

The tutorial's fifth example prints its MODEL_LIST entries unindented: top-level names right after an
empty `MODEL_LIST:`, each holding only MODEL_LIST fields, none of them a Role or Action. Nothing else
can be meant, so they are read as MODEL_LIST's entries.
"""

from __future__ import annotations

from typing import Any

from polyteam.config.schema import ENTRY_FIELDS, MULTI_SPECIAL_KEYS
from polyteam.errors import ConfigIssue
from polyteam.roster import ACTIONS, ROLES


def adopt_unindented(data: Any, label: str) -> tuple[Any, list[ConfigIssue]]:
    """`data` with unindented entries after an empty `MODEL_LIST:` moved under it, and the warning."""
    if not isinstance(data, dict) or "MODEL_LIST" not in data or data["MODEL_LIST"] is not None:
        return data, []
    keys = list(data)
    after = keys[keys.index("MODEL_LIST") + 1 :]
    adopted = [k for k in after if _looks_like_entry(k, data[k])]
    if not adopted or len(adopted) != len([k for k in after if isinstance(data[k], dict)]):
        return data, []
    fixed = {k: v for k, v in data.items() if k not in adopted}
    fixed["MODEL_LIST"] = {k: data[k] for k in adopted}
    names = ", ".join(adopted)
    warning = ConfigIssue(
        label,
        "MODEL_LIST",
        f"{names} are not indented under MODEL_LIST:; read as its entries",
        "indent each entry (and the lines below it) by two spaces more than MODEL_LIST:",
    )
    return fixed, [warning]


def _looks_like_entry(key: Any, value: Any) -> bool:
    if not isinstance(key, str) or key in ROLES or key in ACTIONS or key in MULTI_SPECIAL_KEYS:
        return False
    return isinstance(value, dict) and bool(value) and all(f in ENTRY_FIELDS for f in value)
