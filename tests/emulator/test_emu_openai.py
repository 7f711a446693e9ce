"""The emulator's OpenAI wire, driven by the official `openai` SDK (AsyncOpenAI, max_retries=0) over real sockets."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from canary import OPENAI_API_KEY, assert_no_canary
from polyteam.emulator import ChatRequest, Emulator, Reply

LONG = "a reply long enough to be sent in several chunks of text " * 3
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "say hello"}]


def client(emu, prefix: str = "", **kwargs) -> openai.AsyncOpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=f"{emu.base_url}{prefix}/v1", api_key=OPENAI_API_KEY, **kwargs)


async def test_plain_completion_with_usage(emulator):
    async with client(emulator) as c:
        result = await c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert result.object == "chat.completion"
    assert result.choices[0].message.content == "echo: say hello"
    assert result.choices[0].finish_reason == "stop"
    assert result.model == "gpt-4o-mini"
    assert result.usage.completion_tokens == 4  # len("echo: say hello") / 4, rounded up
    assert result.usage.prompt_tokens > 0
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens
    (record,) = emulator.requests
    assert record["protocol"] == "openai" and record["model"] == "gpt-4o-mini" and record["status"] == 200
    assert record["stream"] is False and record["completion_tokens"] == 4 and record["tag"] == "echo"


async def test_stream_without_usage_chunk(emulator):
    async with client(emulator) as c:
        stream = await c.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        chunks = [chunk async for chunk in stream]
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "echo: say hello"
    assert all(ch.usage is None for ch in chunks) and all(ch.choices for ch in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_stream_with_include_usage_adds_the_usage_chunk(emulator):
    async with client(emulator) as c:
        stream = await c.chat.completions.create(
            model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    last = chunks[-1]
    assert last.choices == [] and last.usage.completion_tokens == 4
    assert all(ch.usage is None for ch in chunks[:-1])


@pytest.mark.parametrize(
    ("fault", "exc_class", "status", "code"),
    [
        ("auth", openai.AuthenticationError, 401, "invalid_api_key"),
        ("429", openai.RateLimitError, 429, "rate_limit_exceeded"),
        ("quota", openai.RateLimitError, 429, "insufficient_quota"),
        ("500", openai.InternalServerError, 500, None),
        ("503", openai.InternalServerError, 503, "server_is_overloaded"),
        ("529", openai.InternalServerError, 503, "server_is_overloaded"),
        ("400", openai.BadRequestError, 400, None),
        ("context", openai.BadRequestError, 400, "context_length_exceeded"),
        ("filter", openai.BadRequestError, 400, "content_filter"),
    ],
)
async def test_error_faults_map_to_the_sdk_exceptions(make_emulator, fault, exc_class, status, code):
    emu = make_emulator(faults=fault)
    async with client(emu) as c:
        with pytest.raises(exc_class) as info:
            await c.chat.completions.create(model="m", messages=MESSAGES)
        assert info.value.status_code == status and info.value.code == code
        assert_no_canary(str(info.value), f"the {fault} error")
        # the fault was used up: the next request succeeds
        ok = await c.chat.completions.create(model="m", messages=MESSAGES)
    assert ok.choices[0].message.content == "echo: say hello"
    assert [r["fault"] for r in emu.requests] == [fault, None]
    assert [r["status"] for r in emu.requests] == [status, 200]


async def test_rate_limit_carries_small_retry_hints(make_emulator):
    emu = make_emulator(faults="429", retry_after_ms=70)
    async with client(emu) as c:
        with pytest.raises(openai.RateLimitError) as info:
            await c.chat.completions.create(model="m", messages=MESSAGES)
    headers = info.value.response.headers
    assert headers["retry-after"] == "0" and headers["retry-after-ms"] == "70"
    quota = make_emulator(faults="quota")
    async with client(quota) as c:
        with pytest.raises(openai.RateLimitError) as info:
            await c.chat.completions.create(model="m", messages=MESSAGES)
    assert "retry-after" not in info.value.response.headers  # quota is not worth retrying


async def test_sdk_retry_honours_retry_after_ms(make_emulator):
    emu = make_emulator(faults="429:2")
    async with client(emu, max_retries=2) as c:
        result = await c.chat.completions.create(model="m", messages=MESSAGES)
    assert result.choices[0].message.content == "echo: say hello"
    assert [r["status"] for r in emu.requests] == [429, 429, 200]
    gap = emu.requests[2]["ts_start"] - emu.requests[1]["ts_end"]
    assert 0.03 < gap < 0.4  # 50 ms hint, not the SDK's 0.5 s default backoff


async def test_missing_key_is_401(emulator):
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emulator.base_url}/v1/chat/completions", json={"model": "m", "messages": MESSAGES}
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 401 and body["error"]["type"] == "invalid_request_error"


async def test_configured_keys_are_enforced(make_emulator):
    emu = make_emulator(credentials={"openai": [OPENAI_API_KEY]})
    revoked = f"{OPENAI_API_KEY}-revoked"  # holds the canary: echoing it back would be caught
    async with openai.AsyncOpenAI(base_url=f"{emu.base_url}/v1", api_key=revoked, max_retries=0) as c:
        with pytest.raises(openai.AuthenticationError) as info:
            await c.chat.completions.create(model="m", messages=MESSAGES)
    assert_no_canary(str(info.value), "the 401 error")
    async with client(emu) as c:
        await c.chat.completions.create(model="m", messages=MESSAGES)


async def test_response_format_schema_reaches_the_responder():
    seen: list[ChatRequest] = []

    async def responder(req: ChatRequest) -> Reply:
        seen.append(req)
        return Reply(json.dumps({"title": "x"}), tag="WritePRD")

    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    async with Emulator(port=0, responder=responder) as emu:
        async with client(emu) as c:
            result = await c.chat.completions.create(
                model="m",
                messages=MESSAGES,
                response_format={"type": "json_schema", "json_schema": {"name": "prd", "schema": schema}},
            )
            await c.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "answer in JSON"}],
                response_format={"type": "json_object"},
            )
            with pytest.raises(openai.BadRequestError, match="json"):
                await c.chat.completions.create(
                    model="m", messages=MESSAGES, response_format={"type": "json_object"}
                )
        assert emu.requests[0]["tag"] == "WritePRD"
    assert json.loads(result.choices[0].message.content) == {"title": "x"}
    assert seen[0].json_schema == schema and seen[1].json_schema == {"type": "object"}
    assert seen[0].messages[0] == {"role": "system", "content": "be brief"} and seen[0].protocol == "openai"


async def test_max_tokens_cuts_with_finish_reason_length(emulator):
    async with client(emulator) as c:
        result = await c.chat.completions.create(model="m", messages=MESSAGES, max_tokens=2)
    assert (
        result.choices[0].finish_reason == "length" and result.choices[0].message.content == "echo: sa"
    )  # 2 tokens = 8 chars


async def test_midstream_error_raises_in_the_sdk_after_some_text(make_emulator):
    emu = make_emulator(faults="midstream", responder=lambda req: LONG)
    got = []
    async with client(emu) as c:
        stream = await c.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        with pytest.raises(openai.APIError, match="server had an error"):
            async for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) and LONG.startswith("".join(got)) and "".join(got) != LONG


async def test_truncate_drops_the_connection(make_emulator):
    emu = make_emulator(faults="truncate:2")
    async with client(emu) as c:
        with pytest.raises(openai.APIConnectionError):
            await c.chat.completions.create(model="m", messages=MESSAGES)
        stream = await c.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        got = []
        with pytest.raises(Exception) as info:  # noqa: PT011 - the transport error class is httpx2's
            async for chunk in stream:
                got.append(chunk)
        assert not isinstance(info.value, AssertionError)
    assert got and all(ch.choices[0].finish_reason is None for ch in got)
    assert [r["fault"] for r in emu.requests] == ["truncate", "truncate"]


async def test_midstream_on_a_plain_request_cuts_the_body(make_emulator):
    emu = make_emulator(faults="midstream")
    async with client(emu) as c:
        with pytest.raises(openai.APIConnectionError):
            await c.chat.completions.create(model="m", messages=MESSAGES)
        ok = await c.chat.completions.create(model="m", messages=MESSAGES)
    assert ok.choices[0].message.content
    assert [r["fault"] for r in emu.requests] == ["midstream", None]


async def test_malformed_fenced_json_loses_its_brace_inside_the_fence(make_emulator):
    fenced = '```json\n{"a": {"b": 1}}\n```'
    emu = make_emulator(faults="malformed", responder=lambda req: Reply(fenced))
    async with client(emu) as c:
        bad = await c.chat.completions.create(model="m", messages=MESSAGES)
    text = bad.choices[0].message.content
    assert text.startswith('```json\n{"a": {"b": 1},') and text.rstrip().endswith("```")


async def test_malformed_corrupts_the_text(make_emulator):
    emu = make_emulator(faults="malformed", responder=lambda req: Reply('{"a": 1, "b": 2}'))
    async with client(emu) as c:
        bad = await c.chat.completions.create(model="m", messages=MESSAGES)
        good = await c.chat.completions.create(model="m", messages=MESSAGES)
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.choices[0].message.content)
    assert json.loads(good.choices[0].message.content) == {"a": 1, "b": 2}


async def test_timeout_holds_until_the_client_gives_up(make_emulator):
    emu = make_emulator(faults="timeout")
    async with client(emu, timeout=0.3) as c:
        with pytest.raises(openai.APITimeoutError):
            await c.chat.completions.create(model="m", messages=MESSAGES)
        result = await c.chat.completions.create(model="m", messages=MESSAGES)
    assert result.choices[0].message.content == "echo: say hello"
    assert emu.wait_for_requests(2, timeout=5)
    held = next(r for r in emu.requests if r["fault"] == "timeout")
    assert held["status"] is None and held["ts_end"] - held["ts_start"] >= 0.25


async def test_latency_delays_the_first_byte_and_paths_may_have_a_prefix(make_emulator):
    emu = make_emulator(latency_ms=150)
    loop = asyncio.get_running_loop()
    async with client(emu, prefix="/llama") as c:
        start = loop.time()
        await c.chat.completions.create(model="llama", messages=MESSAGES)
        elapsed = loop.time() - start
        models = await c.models.list()
    assert elapsed >= 0.14
    assert emu.requests[0]["path"] == "/llama/v1/chat/completions"
    assert [m.id for m in models.data]


async def test_bad_bodies_are_400(emulator):
    async with client(emulator) as c:
        with pytest.raises(openai.BadRequestError):
            await c.chat.completions.create(model="m", messages=[])
        with pytest.raises(openai.BadRequestError):
            await c.chat.completions.create(model="m", messages=[{"role": "wizard", "content": "x"}])
