"""A stand-in for the providers behind a real `polyteam.gateway.Gateway` in tests of the action logic.

`ScriptedGateway.ask_structured` runs the real gateway (its one fallback, its stacks) over
providers that hand each call to `reply` as an `Ask`; no sockets. A subclass answers in `reply`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from polyteam.gateway import Gateway
from polyteam.providers.base import CallOptions, Completion, Delta, Endpoint, Message


@dataclass
class FakeAnswer:
    """A reply: its completion, and the LLM it came from."""

    completion: Completion
    llm: str
    endpoint: Endpoint | None = None


@dataclass
class Ask:
    """One call that reached a provider, as made (the messages copied)."""

    role: str
    action: str
    messages: list[Message]
    options: CallOptions
    llm: str | None  # the LLM whose provider was asked
    on_delta: Any


def scripted_endpoint(llm: str, fallback: tuple[str, ...] = ()) -> Endpoint:
    return Endpoint(llm=llm, kind="openai", base_url="http://127.0.0.1:1/v1", model=llm, fallback=fallback)  # type: ignore[arg-type]


@dataclass
class _Route:
    llm: str
    endpoint: Endpoint


class _Router:
    def __init__(self, owner: ScriptedGateway) -> None:
        self.owner = owner

    def endpoint(self, llm: str) -> Endpoint:
        found = self.owner.endpoint_for(llm)
        chain = list(self.owner.llms)
        if llm == chain[0] and not found.fallback:
            import dataclasses

            found = dataclasses.replace(found, fallback=tuple(chain[1:]))
        return found

    def route(self, role: str, action: str) -> _Route:
        first = self.owner.llms[0]
        return _Route(first, self.endpoint(first))


class _ReplyProvider:
    def __init__(self, owner: ScriptedGateway, endpoint: Endpoint) -> None:
        self.owner = owner
        self.endpoint = endpoint

    def _ask(self, messages: list[Message], options: CallOptions, on_delta: Any) -> Completion:
        role, action = self.owner.current
        ask = Ask(role, action, list(messages), options, self.endpoint.llm, on_delta)
        return self.owner.reply(ask).completion

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        return self._ask(messages, options, None)

    async def stream(
        self, messages: list[Message], options: CallOptions
    ) -> AsyncIterator[Delta | Completion]:
        completion = self._ask(messages, options, True)
        yield Delta(completion.text)
        yield completion

    async def aclose(self) -> None:
        return None


async def _no_sleep(seconds: float) -> None:
    return None


class ScriptedGateway:
    """A real Gateway over scripted providers: the chain is `llms`; each call goes to `reply`."""

    llms: list[str]
    current: tuple[str, str] = ("", "")

    def endpoint_for(self, llm: str) -> Endpoint:
        """The endpoint of one LLM name (override for tiny or local endpoints)."""
        return scripted_endpoint(llm)

    def gateway(self) -> Gateway:
        gw = getattr(self, "_gateway", None)
        if gw is None:
            gw = Gateway(_Router(self), sleep=_no_sleep, provider_factory=lambda ep: _ReplyProvider(self, ep))
            self._gateway = gw
        return gw

    def chain(self, role: str, action: str) -> list[str]:
        return list(self.llms)

    async def ask_structured(self, role: str, action: str, stage: Any, llm: str | None = None) -> Any:
        self.current = (role, action)
        return await self.gateway().ask_structured(role, action, stage, llm)

    def reply(self, ask: Ask) -> FakeAnswer:
        raise NotImplementedError
