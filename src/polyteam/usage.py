"""Token counts the budget can trust: a bound on a prompt's input tokens, and clamped usage reports.

The bound holds for every tokenizer: a token is at least one UTF-8 byte of the text it encodes, so a
prompt of B bytes is at most B tokens, plus what a chat template adds around each message (role
markers, separators: special tokens, each at most a handful) and the JSON schema sent beside it.
A server's usage report is believed only inside [0, bound] for input and [0, max_tokens] for
output; anything else (negative, not a whole number, above the bound) is charged at the bound and
flagged. Used by `polyteam.gateway.MeteredProvider`; prices are `polyteam.prices`'.
"""

from __future__ import annotations

import json
import math
from typing import Any

from polyteam.providers.base import CallOptions, Message

#: chat-template tokens a message may add (role markers, separators), generously
PER_MESSAGE_OVERHEAD = 16
#: tokens a reply may be primed with, and a tool/format preamble
PER_CALL_OVERHEAD = 32


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def prompt_token_bound(
    messages: list[Message], options: CallOptions | None = None, *, schema_sent: bool = True
) -> int:
    """At most this many input tokens, whatever the tokenizer (module docstring).

    `schema_sent`: the endpoint receives `options.json_schema` (it then counts as input).
    """
    total = PER_CALL_OVERHEAD + sum(utf8_len(m.content) + PER_MESSAGE_OVERHEAD for m in messages)
    if schema_sent and options is not None and options.json_schema is not None:
        total += utf8_len(json.dumps(options.json_schema)) + PER_MESSAGE_OVERHEAD
    return total


def _count(value: Any) -> int | None:
    """`value` as a token count, or None when it is not one (negative, fractional, not a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and math.isfinite(value) and value >= 0 and value == int(value):
        return int(value)
    return None


def clamp_count(value: Any, bound: int) -> tuple[int, bool]:
    """(the count to charge, whether the report was out of range): within [0, bound], else `bound`."""
    count = _count(value)
    if count is None or count > bound:
        return max(0, bound), True
    return count, False


def json_safe(value: Any) -> Any:
    """A reported value as the ledger can hold it (a number, or its text cut short)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return repr(value)[:40]
