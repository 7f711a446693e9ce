"""Text that reaches a terminal: every model-derived string passes through `printable` first.

A model's reply may carry escape sequences (set the window title, clear the screen, move the
cursor), bidi overrides (`main\\u202egnp.py` shows as `mainyp.png`) or zero-width characters.
`printable` shows each control, format and separator character as a visible escape (`\\x1b`,
`\\u202e`) and keeps newlines and tabs, so no raw ESC byte ever reaches stdout or stderr.
"""

from __future__ import annotations

import re
import unicodedata

_KEEP = {"\n", "\t"}
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
# a quick pre-check: only text with a character outside printable ASCII needs the slow path
_ASCII_PRINTABLE = re.compile(r"[\n\t\x20-\x7e]*")


def _escape(c: str) -> str:
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str, *, keep_newlines: bool = True) -> str:
    """`text` with every control, format (bidi, zero-width) and separator character escaped.

    `keep_newlines=False` also escapes newlines and tabs (for text that must stay on one line).
    """
    if not text or (keep_newlines and _ASCII_PRINTABLE.fullmatch(text)):
        return text
    keep = _KEEP if keep_newlines else set()
    return "".join(
        _escape(c) if c not in keep and unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text
    )


def json_printable(text: str) -> str:
    """A JSON document (from `json.dumps(..., ensure_ascii=False)`) with every control, format and
    separator character written as a JSON `\\uXXXX` escape: still the same JSON, safe on a terminal
    (json escapes only C0 controls itself; DEL, C1 controls such as CSI and bidi overrides pass raw)."""
    if _ASCII_PRINTABLE.fullmatch(text):
        return text

    def escape(c: str) -> str:
        code = ord(c)
        if code < 0x10000:
            return f"\\u{code:04x}"
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

    return "".join(escape(c) if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text)
