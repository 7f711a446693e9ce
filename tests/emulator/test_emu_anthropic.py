"""The emulator's Anthropic wire, driven by the official `anthropic` SDK (AsyncAnthropic, max_retries=0)."""

from __future__ import annotations

import aiohttp
import anthropic
import pytest

from canary import ANTHROPIC_API_KEY, assert_no_canary
from polyteam.emulator import ChatRequest, Reply

MESSAGES = [{"role": "user", "content": "say hello"}]
LONG = "a reply long enough to be sent in several chunks of text " * 3


def client(emu, **kwargs) -> anthropic.AsyncAnthropic:
    kwargs.setdefault("max_retries", 0)
    return anthropic.AsyncAnthropic(base_url=emu.base_url, api_key=ANTHROPIC_API_KEY, **kwargs)


async def test_plain_message_with_top_level_system(make_emulator):
    seen: list[ChatRequest] = []

    def responder(req: ChatRequest) -> Reply:
        seen.append(req)
        return Reply("hi there", tag="WriteDesign")

    emu = make_emulator(responder=responder)
    async with client(emu) as c:
        message = await c.messages.create(
            model="claude-x", max_tokens=100, system="be terse", messages=MESSAGES
        )
    assert message.content[0].text == "hi there" and message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 2 and message.usage.input_tokens > 0
    assert seen[0].messages == [
        {"role": "system", "content": "be terse"},
        {"role": "user", "content": "say hello"},
    ]
    assert seen[0].max_tokens == 100 and seen[0].protocol == "anthropic"
    (record,) = emu.requests
    assert (record["protocol"], record["status"], record["tag"]) == ("anthropic", 200, "WriteDesign")


async def test_named_event_stream_with_ping_and_cumulative_usage(make_emulator):
    emu = make_emulator(responder=lambda req: LONG)
    async with client(emu) as c:
        stream = await c.messages.create(model="claude-x", max_tokens=1000, messages=MESSAGES, stream=True)
        events = [event async for event in stream]
    types = [e.type for e in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert types.count("content_block_delta") > 2
    assert "".join(e.delta.text for e in events if e.type == "content_block_delta") == LONG
    delta = next(e for e in events if e.type == "message_delta")
    assert delta.usage.output_tokens == emu.requests[0]["completion_tokens"] == len(LONG) // 4 + 1
    assert delta.delta.stop_reason == "end_turn"


async def test_stream_helper_and_ping_on_the_wire(emulator):
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emulator.base_url}/v1/messages",
            json={"model": "m", "max_tokens": 10, "messages": MESSAGES, "stream": True},
            headers={"x-api-key": ANTHROPIC_API_KEY, "anthropic-version": "2023-06-01"},
        ) as resp,
    ):
        raw = (await resp.read()).decode()
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    assert 'event: ping\ndata: {"type":"ping"}\n\n' in raw
    async with (
        client(emulator) as c,
        c.messages.stream(model="m", max_tokens=10, messages=MESSAGES) as stream,
    ):
        text = await stream.get_final_text()
    assert text == "echo: say hello"


@pytest.mark.parametrize(
    ("fault", "exc_class", "status", "error_type"),
    [
        ("529", anthropic.OverloadedError, 529, "overloaded_error"),
        ("429", anthropic.RateLimitError, 429, "rate_limit_error"),
        ("quota", anthropic.EnforcedSpendLimitReachedError, 429, "rate_limit_error"),
        ("auth", anthropic.AuthenticationError, 401, "authentication_error"),
        ("500", anthropic.InternalServerError, 500, "api_error"),
        ("400", anthropic.BadRequestError, 400, "invalid_request_error"),
    ],
)
async def test_error_faults_map_to_the_sdk_exceptions(make_emulator, fault, exc_class, status, error_type):
    emu = make_emulator(faults=fault)
    async with client(emu) as c:
        with pytest.raises(exc_class) as info:
            await c.messages.create(model="m", max_tokens=10, messages=MESSAGES)
    assert info.value.status_code == status
    assert_no_canary(str(info.value), f"the {fault} error")
    assert info.value.body["error"]["type"] == error_type and info.value.body["type"] == "error"
    if fault == "429":
        headers = info.value.response.headers
        assert headers["retry-after"] == "0" and headers["retry-after-ms"] == "50"
        assert headers["anthropic-ratelimit-requests-reset"].endswith("Z")


async def test_sdk_retries_529_then_succeeds(make_emulator):
    emu = make_emulator(faults="529", retry_after_ms=20)
    async with client(emu, max_retries=1) as c:
        message = await c.messages.create(model="m", max_tokens=10, messages=MESSAGES)
    assert message.content[0].text == "echo: say hello"
    assert [r["status"] for r in emu.requests] == [529, 200]


async def test_midstream_error_event(make_emulator):
    emu = make_emulator(faults="midstream", responder=lambda req: LONG)
    got = []
    async with client(emu) as c:
        stream = await c.messages.create(model="m", max_tokens=1000, messages=MESSAGES, stream=True)
        with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
            async for event in stream:
                got.append(event.type)
    assert "content_block_delta" in got and "message_stop" not in got


async def _raw(emu, headers: dict[str, str], body: dict) -> tuple[int, dict]:
    url = f"{emu.base_url}/v1/messages"
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_missing_headers_and_bad_bodies_get_error_envelopes(emulator):
    body = {"model": "m", "max_tokens": 10, "messages": MESSAGES}
    status, data = await _raw(emulator, {"x-api-key": ANTHROPIC_API_KEY}, body)
    assert status == 400 and data["error"]["type"] == "invalid_request_error"
    assert "anthropic-version" in data["error"]["message"]
    status, data = await _raw(emulator, {"anthropic-version": "2023-06-01"}, body)
    assert status == 401 and data["error"]["type"] == "authentication_error"
    ok_headers = {"Authorization": f"Bearer {ANTHROPIC_API_KEY}", "anthropic-version": "2023-06-01"}
    assert (await _raw(emulator, ok_headers, body))[0] == 200
    status, data = await _raw(emulator, ok_headers, {"model": "m", "messages": MESSAGES})
    assert status == 400 and "max_tokens" in data["error"]["message"]
    status, data = await _raw(
        emulator, ok_headers, {**body, "messages": [{"role": "system", "content": "x"}, *MESSAGES]}
    )
    assert status == 400 and "top-level `system`" in data["error"]["message"]
    assert [r["status"] for r in emulator.requests] == [400, 401, 200, 400, 400]
