"""What the emulator answers: the Responder protocol, ChatRequest, Reply, `echo`, scripted YAML, and the registry.

A responder is a callable `(ChatRequest) -> Reply | str` (sync or async). The protocol modules turn a
request into a ChatRequest and the Reply into their own wire shape; faults are applied after the responder,
so its `tag` can be matched by a fault rule. Named responders (`echo`, `team`) are looked up in
`polyteam.emulator.registry`, which imports `team_responder` only when asked: this module never does.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ECHO_LIMIT = 200


@dataclass
class ChatRequest:
    """One chat call as every protocol sees it; the system prompt is folded in as the first message."""

    protocol: str
    model: str
    messages: list[dict[str, str]]
    max_tokens: int | None = None
    json_schema: dict[str, Any] | None = None
    stream: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def last_user(self) -> str:
        """The content of the last user message ('' if none)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message.get("content", "")
        return ""


@dataclass
class Reply:
    """A responder's answer; `tag` names what the request was (e.g. 'WriteCode:main.py') for logs and faults."""

    text: str
    tag: str | None = None


class Responder(Protocol):
    """Anything that answers a ChatRequest, synchronously or not."""

    def __call__(self, req: ChatRequest) -> Reply | str | Awaitable[Reply | str]: ...


ResponderSpec = str | Callable[[ChatRequest], Any] | None


def echo(req: ChatRequest) -> Reply:
    """A short text derived from the last user message."""
    last = " ".join(req.last_user.split())
    if len(last) > ECHO_LIMIT:
        last = last[:ECHO_LIMIT] + "..."
    return Reply(text=f"echo: {last}" if last else "echo: (empty)", tag="echo")


class ScriptedResponder:
    """Replies from a YAML file: a list of rules `{model?, pattern?, reply, tag?}`; first match wins.

    `pattern` is a regular expression searched in the last user message; a rule without `model`
    or `pattern` matches any request. No match: the `echo` reply.
    """

    def __init__(self, rules: list[dict[str, Any]]) -> None:
        self.rules = []
        for index, rule in enumerate(rules):
            if not isinstance(rule, dict) or not isinstance(rule.get("reply"), str):
                raise ValueError(f"responder rule {index + 1}: needs a 'reply' string")
            pattern = re.compile(rule["pattern"]) if rule.get("pattern") else None
            self.rules.append((rule.get("model"), pattern, rule["reply"], rule.get("tag")))

    @classmethod
    def from_file(cls, path: Path) -> ScriptedResponder:
        """Load the rules from a YAML file (a list, or a mapping with a `rules` list)."""
        import yaml

        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if isinstance(data, dict):
            data = data.get("rules", [])
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list of rules")
        return cls(data)

    def __call__(self, req: ChatRequest) -> Reply:
        for model, pattern, reply, tag in self.rules:
            if model and model != req.model:
                continue
            if pattern and not pattern.search(req.last_user):
                continue
            return Reply(text=reply, tag=tag)
        return echo(req)


class ResponderError(Exception):
    """The responder failed; the server answers with its protocol's internal error instead of crashing."""


async def call_responder(responder: Callable[[ChatRequest], Any], req: ChatRequest) -> Reply:
    """Run the responder (awaiting it if needed) and normalise its answer to a Reply.

    Raises:
        ResponderError: the responder raised or returned something else than a Reply or a str
            (the traceback goes to the `polyteam.emulator` logger).
    """
    try:
        result = responder(req)
        if inspect.isawaitable(result):
            result = await result
    except Exception as exc:  # any bug in a responder must become a 500, not a dropped connection
        logging.getLogger("polyteam.emulator").exception("responder failed on a %s request", req.protocol)
        raise ResponderError(f"responder failed: {type(exc).__name__}") from exc
    if isinstance(result, Reply):
        return result
    if isinstance(result, str):
        return Reply(text=result)
    raise ResponderError(f"responder returned {type(result).__name__}; expected Reply or str")
