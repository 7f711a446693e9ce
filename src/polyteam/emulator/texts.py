"""Text shaping shared by the emulator's protocols: token estimates, chunking, max_tokens cuts, corruption.

Token counts are estimates (about 4 characters per token, at least 1 for non-empty text); every protocol
reports them in its own usage shape. Nothing here knows a wire format.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """About len/4 tokens; 0 only for empty text."""
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def prompt_tokens(messages: Iterable[dict[str, str]]) -> int:
    """Estimated prompt tokens of a message list (content plus a small per-message overhead)."""
    return sum(estimate_tokens(m.get("content", "")) + 3 for m in messages)


def cut_to_max_tokens(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """The text cut to about `max_tokens` tokens, and whether it was cut (finish reason 'length')."""
    if max_tokens is None or max_tokens <= 0 or estimate_tokens(text) <= max_tokens:
        return text, False
    return text[: max_tokens * CHARS_PER_TOKEN], True


def split_chunks(text: str, size: int = 24) -> list[str]:
    """The text in pieces of about `size` characters, split after spaces/newlines where possible."""
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            if cut > start:
                end = cut + 1
        chunks.append(text[start:end])
        start = end
    return chunks


def corrupt(text: str) -> str:
    """A deliberately malformed version of a reply, for the `malformed` fault.

    JSON-looking text loses its final closing brace and gains a dangling comma (a repairable,
    typical weak-model break), inside its ``` fence when it has one; any other text is cut in half.
    """
    stripped = text.rstrip()
    fence = ""
    if stripped.endswith("```"):
        body = stripped[:-3].rstrip()
        if body.endswith("}"):
            stripped, fence = body, "\n```\n"
    if stripped.endswith("}") and len(stripped) > 2:
        return stripped[:-1].rstrip() + ",\n" + fence
    return text[: max(1, len(text) // 2)]


def flatten_content(content: object) -> str:
    """Message content as text: strings stay, lists of parts/blocks keep their text parts joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, dict) and isinstance(part.get("content"), (str, list)):
                parts.append(flatten_content(part["content"]))
        return "".join(parts)
    return str(content)


def new_id(prefix: str, nbytes: int = 12) -> str:
    """A random id like the providers' (`chatcmpl-…`, `msg_…`)."""
    return prefix + secrets.token_hex(nbytes)
