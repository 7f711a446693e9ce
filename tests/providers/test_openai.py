"""OpenAI-compatible specifics: missing usage, JSON schema only where supported, extra_body, clients."""

from __future__ import annotations

from typing import Any

from _provider_endpoints import endpoint_for

from polyteam.emulator import ChatRequest, Reply
from polyteam.providers.base import CallOptions, Completion, Message, estimate_prompt_tokens, estimate_tokens
from polyteam.providers.openai import OpenAIProvider

MESSAGES = [Message("system", "Answer in JSON."), Message("user", "give me json")]
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


async def test_a_stream_without_a_usage_chunk_is_estimated_and_marked(emulator: Any) -> None:
    provider = OpenAIProvider(endpoint_for("open_llm", emulator))
    # extra_body reaches the wire: here it turns the usage chunk off, as servers without it behave
    options = CallOptions(extra_body={"stream_options": {"include_usage": False}})
    try:
        items = [item async for item in provider.stream(MESSAGES, options)]
    finally:
        await provider.aclose()
    last = items[-1]
    assert isinstance(last, Completion) and last.estimated
    assert last.text == "echo: give me json"
    assert (last.input_tokens, last.output_tokens) == (
        estimate_prompt_tokens(MESSAGES),
        estimate_tokens(last.text),
    )


async def test_json_schema_is_sent_only_to_endpoints_that_accept_it(make_emulator: Any) -> None:
    seen: list[dict[str, Any] | None] = []

    def responder(req: ChatRequest) -> Reply:
        seen.append(req.json_schema)
        return Reply('{"name": "x"}')

    emu = make_emulator(responder=responder)
    options = CallOptions(json_schema=SCHEMA, schema_name="person")
    for supports in (True, False):
        provider = OpenAIProvider(endpoint_for("open_llm", emu, json_schema=supports))
        try:
            completion = await provider.complete(MESSAGES, options)
        finally:
            await provider.aclose()
        assert completion.text == '{"name": "x"}'
    assert seen == [SCHEMA, None]


async def test_each_provider_owns_one_client_and_aclose_closes_it(emulator: Any) -> None:
    first, second = (OpenAIProvider(endpoint_for("openai", emulator)) for _ in range(2))
    assert first._client is not second._client
    await first.complete(MESSAGES, CallOptions())
    await first.aclose()
    assert first._client.is_closed()
    assert not second._client.is_closed()
    await second.aclose()


async def test_several_bases_take_turns(emulator: Any) -> None:
    bases = (f"{emulator.base_url}/a/v1", f"{emulator.base_url}/b/v1")
    provider = OpenAIProvider(endpoint_for("open_llm", emulator, base_url=bases[0], bases=bases))
    try:
        for _ in range(4):
            await provider.complete(MESSAGES, CallOptions())
    finally:
        await provider.aclose()
    assert emulator.wait_for_requests(4)
    assert (
        sorted(r["path"] for r in emulator.requests)
        == ["/a/v1/chat/completions"] * 2 + ["/b/v1/chat/completions"] * 2
    )


async def test_plain_http_clients_share_one_tls_context_instead_of_loading_the_ca_store(
    emulator: Any, monkeypatch: Any
) -> None:
    # issue 7: each run's client loaded the system CA store (~30 ms) for an http:// endpoint
    import ssl

    loads: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args)
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    providers = [OpenAIProvider(endpoint_for("open_llm", emulator)) for _ in range(3)]
    try:
        for provider in providers:
            assert (await provider.complete(MESSAGES, CallOptions())).text == "echo: give me json"
    finally:
        for provider in providers:
            await provider.aclose()
    assert loads == []
    # an https:// endpoint keeps the SDK's own client and TLS set-up
    secure = OpenAIProvider(endpoint_for("open_llm", emulator, base_url="https://api.example.invalid/v1"))
    await secure.aclose()
    assert len(loads) == 1
