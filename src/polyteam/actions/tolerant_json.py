"""A tolerant JSON parser for the breakage weak models produce (used by `polyteam.actions.parsing`).

Trailing commas, single quotes, // and /* */ comments, raw newlines and tabs in strings, Python
literals (True/False/None), unquoted keys, missing commas between members, and truncated tails (open
strings, arrays and objects are closed). Raises `_Unparsable` when it gives up; `parsing.py` turns
that into MalformedReplyError at its edge.
"""

from __future__ import annotations

import re
from typing import Any

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")
_LITERALS: dict[str, Any] = {
    "true": True,
    "false": False,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
}
_MAX_DEPTH = 200


class _Unparsable(Exception):
    """Internal: the tolerant parser gave up (turned into MalformedReplyError at the edge)."""


class _Parser:
    """A recursive-descent parser for JSON as weak models write it. Never reads past the value."""

    def __init__(self, text: str, pos: int = 0) -> None:
        self.text = text
        self.pos = pos
        self.n = len(text)
        self.fixes: list[str] = []

    def fix(self, what: str) -> None:
        if what not in self.fixes:
            self.fixes.append(what)

    # whitespace and comments
    def skip_space(self) -> None:
        text, n = self.text, self.n
        while self.pos < n:
            ch = text[self.pos]
            if ch in " \t\r\n\ufeff\xa0":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end + 1
                self.fix("comments removed")
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                self.pos = n if end < 0 else end + 2
                self.fix("comments removed")
            else:
                return

    def at_end(self) -> bool:
        return self.pos >= self.n

    def value(self, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise _Unparsable("nested too deeply")
        self.skip_space()
        if self.at_end():
            raise _Unparsable("no value before the end")
        ch = self.text[self.pos]
        if ch == "{":
            return self.obj(depth)
        if ch == "[":
            return self.arr(depth)
        if ch in "\"'":
            return self.string()
        m = _NUMBER.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            return _to_number(m.group(0))
        m = _IDENT.match(self.text, self.pos)
        if m and m.group(0) in _LITERALS:
            self.pos = m.end()
            if m.group(0)[0].isupper():
                self.fix("Python literals converted")
            return _LITERALS[m.group(0)]
        raise _Unparsable(f"unexpected {ch!r} at {self.pos}")

    def cut_off(self) -> bool:
        """Skip space; True (the tail closed) when the text ends here."""
        self.skip_space()
        if self.at_end():
            self.fix("truncated tail closed")
            return True
        return False

    def obj(self, depth: int) -> dict[str, Any]:
        self.pos += 1  # {
        out: dict[str, Any] = {}
        while self.member_follows("}"):
            key = self.key()
            if self.cut_off():
                return out
            if self.text[self.pos] in ":=":
                self.pos += 1
            else:
                raise _Unparsable(f"expected ':' after key at {self.pos}")
            if self.cut_off():
                return out
            out[key] = self.value(depth + 1)
            if not self.after_member("}"):
                break
        return out

    def arr(self, depth: int) -> list[Any]:
        self.pos += 1  # [
        out: list[Any] = []
        while self.member_follows("]"):
            out.append(self.value(depth + 1))
            if not self.after_member("]"):
                break
        return out

    def member_follows(self, closer: str) -> bool:
        """Skip stray commas; False when the container ends here (its `closer`, or the text's end)."""
        while not self.cut_off():
            ch = self.text[self.pos]
            if ch == closer:
                self.pos += 1
                return False
            if ch != ",":
                return True
            self.pos += 1
            self.fix("stray commas removed")
        return False

    def after_member(self, closer: str) -> bool:
        """Consume the separator after a member; False when the container was closed (or cut off)."""
        if self.cut_off():
            return False
        ch = self.text[self.pos]
        if ch == ",":
            self.pos += 1
            self.skip_space()
            if not self.at_end() and self.text[self.pos] == closer:
                self.fix("trailing commas removed")
            return True
        if ch == closer:
            self.pos += 1
            return False
        if ch in "]}":
            # a mismatched closer: the model closed the wrong bracket; treat it as ours
            self.fix("mismatched bracket")
            self.pos += 1
            return False
        # a member starts without a comma (a common slip between lines)
        self.fix("missing commas added")
        return True

    def key(self) -> str:
        ch = self.text[self.pos]
        if ch in "\"'":
            return self.string()
        m = _IDENT.match(self.text, self.pos) or _NUMBER.match(self.text, self.pos)
        if not m:
            raise _Unparsable(f"expected a key at {self.pos}")
        self.pos = m.end()
        self.fix("unquoted keys quoted")
        return m.group(0)

    def string(self) -> str:
        text, n = self.text, self.n
        quote = text[self.pos]
        if quote == "'":
            self.fix("single quotes converted")
        if text.startswith(quote * 3, self.pos):
            return self.triple_string(quote)
        self.pos += 1
        parts: list[str] = []
        while self.pos < n:
            ch = text[self.pos]
            if ch == "\\":
                parts.append(self.escape())
                continue
            if ch == quote:
                if self.closes_string(self.pos + 1):
                    self.pos += 1
                    return "".join(parts)
                self.fix("inner quotes escaped")
                parts.append(ch)
                self.pos += 1
                continue
            if ch in "\n\r\t" or ord(ch) < 0x20:
                self.fix("raw control characters escaped")
            parts.append(ch)
            self.pos += 1
        self.fix("truncated tail closed")
        return "".join(parts)

    def triple_string(self, quote: str) -> str:
        start = self.pos + 3
        end = self.text.find(quote * 3, start)
        self.fix("triple-quoted strings converted")
        if end < 0:
            self.fix("truncated tail closed")
            self.pos = self.n
            return self.text[start:]
        self.pos = end + 3
        return self.text[start:end]

    def closes_string(self, after: int) -> bool:
        """A quote ends the string if what follows can follow a value (else it is a stray inner quote)."""
        text, n = self.text, self.n
        i = after
        saw_newline = False
        while i < n and text[i] in " \t\r\n":
            saw_newline = saw_newline or text[i] == "\n"
            i += 1
        if i >= n:
            return True
        ch = text[i]
        if ch in ",:}]" or text.startswith("//", i) or text.startswith("/*", i):
            return True
        # a new member on the next line without a comma
        return saw_newline and ch in "\"'"

    def escape(self) -> str:
        text = self.text
        if self.pos + 1 >= self.n:
            self.pos = self.n
            self.fix("truncated tail closed")
            return ""
        code = text[self.pos + 1]
        simple = {
            '"': '"',
            "'": "'",
            "\\": "\\",
            "/": "/",
            "b": "\b",
            "f": "\f",
            "n": "\n",
            "r": "\r",
            "t": "\t",
        }
        if code in simple:
            self.pos += 2
            return simple[code]
        if code == "u":
            high = _hex4(text, self.pos + 2)
            if high is not None:
                self.pos += 6
                # a surrogate pair written as two escapes
                if 0xD800 <= high <= 0xDBFF and text.startswith("\\u", self.pos):
                    low = _hex4(text, self.pos + 2)
                    if low is not None and 0xDC00 <= low <= 0xDFFF:
                        self.pos += 6
                        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                return chr(high)
        # an invalid escape such as \d in a regex: keep it literally
        self.fix("invalid escapes kept")
        self.pos += 2
        return "\\" + code


def _hex4(text: str, start: int) -> int | None:
    """The code point of the four hex digits at `start` (a `\\uXXXX` escape's), or None."""
    digits = text[start : start + 4]
    if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
        return int(digits, 16)
    return None


def _to_number(token: str) -> int | float:
    cleaned = token.lstrip("+")
    try:
        if re.fullmatch(r"-?\d+", cleaned):
            return int(cleaned)
        return float(cleaned)
    except ValueError as exc:  # e.g. "1e" cut off: the regex makes this unreachable in practice
        raise _Unparsable(f"bad number {token!r}") from exc
