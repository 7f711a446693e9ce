"""Getting JSON objects out of an untrusted LLM reply: reasoning stripped, candidates, repair.

Owns: `strip_reasoning` (`<think>...</think>` is never part of the answer), `json_candidates` (every
object the reply may hold, best first: bare, ```json fenced, inside [CONTENT]...[/CONTENT], or
embedded in prose; each start parsed strictly, then by our tolerant parser, then by `json-repair`,
so the caller takes the first that *validates*, not the first that parses), and a tolerant parser for the breakage weak models produce: trailing commas, single
quotes, // and /* */ comments, raw newlines and tabs in strings, Python literals
(True/False/None), unquoted keys, missing commas between members, and truncated tails (open
strings, arrays and objects are closed). Validation against an output model is left to
`polyteam.actions.structured`.

`extract_json` raises nothing but `MalformedReplyError`, whatever the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from polyteam.errors import MalformedReplyError

__all__ = [
    "Extracted",
    "extract_json",
    "extract_code_block",
    "json_candidates",
    "repair_json",
    "strip_reasoning",
]

_REASONING_BLOCK = re.compile(r"<(think|thinking|reasoning)>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_REASONING_OPEN = re.compile(r"<(?:think|thinking|reasoning)>", re.IGNORECASE)
_REASONING_CLOSE = re.compile(r"</(?:think|thinking|reasoning)\s*>", re.IGNORECASE)
_CONTENT_CLOSE = re.compile(r"\[\s*/\s*CONTENT\s*\]", re.IGNORECASE)
#: how many start positions also go through json-repair (it is slower than ours)
_MAX_REPAIR_STARTS = 8

_CONTENT_OPEN = re.compile(r"\[\s*CONTENT\s*\]", re.IGNORECASE)
_FENCE_OPEN = re.compile(r"```[ \t]*(?:json5?|javascript|js)?[ \t]*\r?\n?", re.IGNORECASE)
_CODE_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[ \t]*\r?\n(.*?)(?:\r?\n[ \t]*```|\Z)", re.DOTALL)
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
#: how many candidate start positions to try before giving up (keeps worst cases linear-ish)
_MAX_CANDIDATES = 64
_MAX_DEPTH = 200
_DECODER = json.JSONDecoder()


@dataclass
class Extracted:
    """The object found in a reply, and the repairs it needed (empty when it parsed as JSON)."""

    value: dict[str, Any]
    fixes: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        return bool(self.fixes)


def extract_json(text: str) -> Extracted:
    """The JSON object in an LLM reply, repaired if needed.

    Preference: the content of [CONTENT] tags, then of a ```json fence, then the first `{` of
    the text (a tag or fence that sits inside that first object is part of a string, not a
    wrapper); strict JSON at each of those first, then the tolerant parser, then later `{`s.

    Raises:
        MalformedReplyError: no object could be recovered from the text.
    """
    if not isinstance(text, str):
        raise MalformedReplyError(f"reply is {type(text).__name__}, not text")
    text = strip_reasoning(text)
    preferred = _preferred_starts(text)
    for start in preferred:
        value, _end = _strict_at(text, start)
        if isinstance(value, dict):
            return Extracted(value)
    for start in preferred:
        got, _end = _lenient_at(text, start)
        if got is not None:
            return got
    tried = set(preferred)
    for start in _brace_positions(text, limit=_MAX_CANDIDATES):
        if start in tried:
            continue
        value, _end = _strict_at(text, start)
        if isinstance(value, dict):
            return Extracted(value, ["object embedded in prose"])
        got, _end = _lenient_at(text, start)
        if got is not None:
            got.fixes.insert(0, "object embedded in prose")
            return got
    snippet = " ".join(text.split())[:80]
    raise MalformedReplyError(f"no JSON object in the reply (starts: {snippet!r})")


def strip_reasoning(text: str) -> str:
    """The reply without its reasoning: `<think>...</think>` blocks (also `thinking`, `reasoning`)
    removed; a block opened and never closed (cut off at the cap) drops the rest; a reply that
    starts inside one (the chat template opened it) keeps only what follows its closing tag."""
    text = _REASONING_BLOCK.sub("", text)
    opened = _REASONING_OPEN.search(text)
    if opened is not None:
        text = text[: opened.start()]
    closes = list(_REASONING_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    return text


def json_candidates(text: str) -> Iterator[Extracted]:
    """Every JSON object the reply may hold, best first, each once (reasoning never a candidate).

    Start positions: after [CONTENT], after a ```json fence, the first brace, then later braces.
    At each: strict JSON, our tolerant parser, then `json-repair` (measured: ours wins on
    [CONTENT] tags and triple-quoted code; json-repair on unquoted values, curly quotes and
    full-width commas, and a fenced object missing its brace; tests/unit/test_parse_table.py).
    Lazy: a caller that validates each stops at the first good one.
    """
    if not isinstance(text, str):
        return
    text = strip_reasoning(text)
    preferred = _preferred_starts(text)
    seen: set[str] = set()
    starts = preferred + [p for p in _brace_positions(text, _MAX_CANDIDATES) if p not in preferred]
    for index, start in enumerate(starts):
        embedded = [] if start in preferred else ["object embedded in prose"]
        value, _end = _strict_at(text, start)
        if isinstance(value, dict) and _first_time(value, seen):
            yield Extracted(value, list(embedded))
        got, _end = _lenient_at(text, start)
        if got is not None and _first_time(got.value, seen):
            yield Extracted(got.value, embedded + got.fixes)
        if index < _MAX_REPAIR_STARTS:
            repaired = _json_repair_at(text, start)
            if repaired is not None and _first_time(repaired, seen):
                yield Extracted(repaired, [*embedded, "json repaired (json-repair)"])


def _first_time(value: dict[str, Any], seen: set[str]) -> bool:
    if not value:
        return False
    key = json.dumps(value, sort_keys=True, default=str)
    if key in seen:
        return False
    seen.add(key)
    return True


def _json_repair_at(text: str, start: int) -> dict[str, Any] | None:
    """json-repair's reading of the object at `start`, up to a closing fence or tag (None: no object)."""
    from json_repair import repair_json as _repair  # lazy: only replies that need it pay the import

    end = len(text)
    for pattern in (_CONTENT_CLOSE, re.compile(r"```")):
        m = pattern.search(text, start)
        if m is not None:
            end = min(end, m.start())
    try:
        value = _repair(text[start:end], return_objects=True)
    except (ValueError, RecursionError, IndexError, TypeError):
        return None
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, dict) and v), None)
    return value if isinstance(value, dict) and value else None


def repair_json(text: str) -> Any:
    """Parse one JSON-like value from the start of `text` (after whitespace) with every repair.

    Raises:
        MalformedReplyError: the text holds no recoverable value.
    """
    if not isinstance(text, str):
        raise MalformedReplyError(f"reply is {type(text).__name__}, not text")
    parser = _Parser(text)
    try:
        parser.skip_space()
        value = parser.value(0)
    except (_Unparsable, RecursionError) as exc:
        raise MalformedReplyError(f"unrepairable JSON: {exc}") from None
    return value


def extract_code_block(text: str, prefer: tuple[str, ...] = ("python", "py")) -> str | None:
    """The body of the first fenced code block (a `prefer`red language first), or None."""
    blocks = [(m.group(1).lower(), m.group(2)) for m in _CODE_FENCE.finditer(text)]
    for lang, body in blocks:
        if lang in prefer and body.strip():
            return body
    for lang, body in blocks:
        if lang not in ("json", "json5", "mermaid") and body.strip():
            return body
    return None


# --- candidates ---------------------------------------------------------------------------


def _preferred_starts(text: str) -> list[int]:
    """Where the object most likely starts: after [CONTENT], after a ```json fence, first brace."""
    first = _first_brace(text, 0)
    if first is None:
        return []
    value, end = _strict_at(text, first)
    if value is None:
        got, end = _lenient_at(text, first)
        if got is None:
            end = first
    starts: list[int] = []
    for pattern in (_CONTENT_OPEN, _FENCE_OPEN):
        m = pattern.search(text)
        if m is None or first < m.start() < end:
            continue  # no marker, or the marker is text inside the first object
        pos = _first_brace(text, m.end())
        if pos is not None and pos not in starts:
            starts.append(pos)
    if first not in starts:
        starts.append(first)
    return starts


def _first_brace(text: str, start: int) -> int | None:
    pos = text.find("{", start)
    return None if pos < 0 else pos


def _brace_positions(text: str, limit: int) -> list[int]:
    out: list[int] = []
    pos = text.find("{")
    while pos >= 0 and len(out) < limit:
        out.append(pos)
        pos = text.find("{", pos + 1)
    return out


def _strict_at(text: str, start: int) -> tuple[Any, int]:
    """(value, end) of strict JSON at `start`, or (None, start)."""
    try:
        return _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return None, start


def _lenient_at(text: str, start: int) -> tuple[Extracted | None, int]:
    """(object, end) from the tolerant parser at `start`, or (None, start) when it is no object."""
    parser = _Parser(text, start)
    try:
        value = parser.value(0)
    except (_Unparsable, RecursionError):
        return None, start
    if not isinstance(value, dict) or (not value and "truncated tail closed" in parser.fixes):
        return None, start  # a cut-off "{" carries nothing
    return Extracted(value, parser.fixes or ["json repaired"]), parser.pos


# --- the tolerant parser ------------------------------------------------------------------


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
