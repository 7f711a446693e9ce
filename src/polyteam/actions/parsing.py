"""Getting JSON objects out of an untrusted LLM reply: reasoning stripped, candidates, repair.

Owns: `strip_reasoning` (`<think>...</think>` is never part of the answer), `json_candidates` (every
object the reply may hold, best first: bare, ```json fenced, inside [CONTENT]...[/CONTENT], or
embedded in prose; each start parsed strictly, then by our tolerant parser, then by `json-repair`,
so the caller takes the first that *validates*, not the first that parses); the tolerant parser itself
(`polyteam.actions.tolerant_json`) handles the breakage weak models produce: trailing commas, single
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

from polyteam.actions.tolerant_json import _Parser, _Unparsable
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
#: how many candidate start positions to try before giving up (keeps worst cases linear-ish)
_MAX_CANDIDATES = 64
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
