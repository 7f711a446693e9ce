"""Claude specifics: system prompt top-level, alternating turns, max_tokens always sent."""

from __future__ import annotations

from typing import Any

from _provider_endpoints import endpoint_for

from polyteam.emulator import ChatRequest
from polyteam.providers.anthropic import AnthropicProvider, to_wire
from polyteam.providers.base import CallOptions, Message


def test_system_messages_go_top_level_and_turns_alternate_starting_with_user() -> None:
    system, turns = to_wire(
        [
            Message("system", "rule one"),
            Message("assistant", "earlier answer"),
            Message("system", "rule two"),
            Message("user", "a"),
            Message("user", "b"),
        ]
    )
    assert system == "rule one\n\nrule two"
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[-1]["content"] == "a\n\nb"


def test_a_system_prompt_alone_becomes_the_user_turn() -> None:
    assert to_wire([Message("system", "only this")]) == (None, [{"role": "user", "content": "only this"}])


async def test_the_wire_carries_system_and_max_tokens(make_emulator: Any) -> None:
    seen: list[ChatRequest] = []

    def responder(req: ChatRequest) -> str:
        seen.append(req)
        return "fine"

    emu = make_emulator(responder=responder)
    provider = AnthropicProvider(endpoint_for("claude", emu))
    try:
        completion = await provider.complete(
            [Message("system", "be terse"), Message("user", "hi")], CallOptions(max_tokens=77)
        )
    finally:
        await provider.aclose()
    assert completion.text == "fine" and completion.finish_reason == "end_turn"
    (req,) = seen
    assert req.max_tokens == 77
    assert req.messages == [{"role": "system", "content": "be terse"}, {"role": "user", "content": "hi"}]
