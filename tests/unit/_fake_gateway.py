"""A stand-in for `polyteam.gateway.Gateway` in tests of the action logic (no sockets).

`ScriptedGateway.ask` has `Gateway.ask`'s signature (what `run_action` needs, see
`polyteam.actions.structured.GatewayLike`); a subclass answers each `Ask` in `reply`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyteam.providers.base import CallOptions, Completion, Endpoint, Message


@dataclass
class FakeAnswer:
    """The parts of `polyteam.gateway.Answer` that `run_action` reads."""

    completion: Completion
    llm: str
    endpoint: Endpoint | None = None


@dataclass
class Ask:
    """One call of `ask`, as made (the messages copied, the options never None)."""

    role: str
    action: str
    messages: list[Message]
    options: CallOptions
    llm: str | None
    on_delta: Any


class ScriptedGateway:
    """`chain` gives `llms`; `ask` hands each call to `reply` as an `Ask`."""

    llms: list[str]

    def chain(self, role: str, action: str) -> list[str]:
        return list(self.llms)

    async def ask(
        self,
        role: str,
        action: str,
        messages: list[Message],
        options: CallOptions | None = None,
        on_delta: Any = None,
        llm: str | None = None,
    ) -> FakeAnswer:
        return self.reply(Ask(role, action, list(messages), options or CallOptions(), llm, on_delta))

    def reply(self, ask: Ask) -> FakeAnswer:
        raise NotImplementedError
