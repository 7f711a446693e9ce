"""Every provider against the emulator over real sockets: replies, streams, usage, every error class."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _provider_endpoints import KEYS, KINDS, endpoint_for

from canary import assert_no_canary
from polyteam.errors import (
    AuthError,
    BadRequestError,
    ContentFilteredError,
    ContextTooLongError,
    ProviderError,
    QuotaExhaustedError,
    RateLimitError,
    ServerError,
    TransportError,
)
from polyteam.gateway import TimeoutProvider
from polyteam.providers import make_provider
from polyteam.providers.base import CallOptions, Completion, Delta, Message, Provider

MESSAGES = [Message("system", "You are terse."), Message("user", "hello there")]
PROTOCOL = {
    "openai": "openai",
    "open_llm": "openai",
    "claude": "anthropic",
    "zhipu": "zhipu",
    "spark": "spark",
}

#: emulator fault -> the class each provider must raise (the emulator sends each vendor's own error shape)
FAULTS: dict[str, dict[str, type[ProviderError]]] = {
    "400": dict.fromkeys(KINDS, BadRequestError),
    "auth": dict.fromkeys(KINDS, AuthError),
    "429": dict.fromkeys(KINDS, RateLimitError),
    "quota": dict.fromkeys(KINDS, QuotaExhaustedError),
    "500": dict.fromkeys(KINDS, ServerError),
    "503": {"openai": ServerError, "claude": ServerError, "zhipu": RateLimitError, "spark": ServerError},
    "529": dict.fromkeys(KINDS, ServerError),
    "filter": dict.fromkeys(KINDS, ContentFilteredError),
    "context": dict.fromkeys(KINDS, ContextTooLongError),
}


async def logged_requests(emu: Any, count: int = 1) -> list[dict[str, Any]]:
    """The emulator's log once it holds `count` records (a record is written after the reply is sent)."""
    assert await asyncio.to_thread(emu.wait_for_requests, count, 10.0)
    return emu.requests


async def collect(provider: Provider) -> list[Delta | Completion]:
    return [item async for item in provider.stream(MESSAGES, CallOptions(max_tokens=256))]


@pytest.fixture
async def opened() -> Any:
    """`opened(endpoint)` -> a provider, closed after the test."""
    providers: list[Provider] = []

    def make(endpoint: Any) -> Provider:
        provider = make_provider(endpoint)
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        await provider.aclose()


@pytest.mark.parametrize("kind", [*KINDS, "open_llm"])
async def test_complete_returns_the_reply_and_the_servers_usage(
    kind: str, emulator: Any, opened: Any
) -> None:
    endpoint = endpoint_for(kind, emulator)
    completion = await opened(endpoint).complete(MESSAGES, CallOptions(max_tokens=256))
    assert completion.text == "echo: hello there"
    (logged,) = await logged_requests(emulator)
    assert logged["protocol"] == PROTOCOL[kind] and logged["model"] == endpoint.model
    assert logged["stream"] is (kind == "spark")  # a Spark exchange is always a stream of frames
    assert (completion.input_tokens, completion.output_tokens) == (
        logged["prompt_tokens"],
        logged["completion_tokens"],
    )
    assert completion.input_tokens > 0 and completion.output_tokens > 0 and not completion.estimated
    assert completion.finish_reason


@pytest.mark.parametrize("kind", [*KINDS, "open_llm"])
async def test_stream_yields_deltas_then_one_completion_with_usage(
    kind: str, emulator: Any, opened: Any
) -> None:
    items = await collect(opened(endpoint_for(kind, emulator)))
    deltas, last = items[:-1], items[-1]
    assert deltas and all(isinstance(d, Delta) for d in deltas)
    assert (
        isinstance(last, Completion) and last.text == "".join(d.text for d in deltas) == "echo: hello there"
    )
    (logged,) = await logged_requests(emulator)
    assert logged["stream"] is True or kind == "spark"  # a Spark exchange is always streamed
    assert (last.input_tokens, last.output_tokens) == (logged["prompt_tokens"], logged["completion_tokens"])
    assert not last.estimated


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("kind", KINDS)
async def test_error_faults_map_to_one_class_naming_the_endpoint_never_the_key(
    kind: str, fault: str, make_emulator: Any, opened: Any
) -> None:
    emu = make_emulator(faults=f"{fault}:*")
    endpoint = endpoint_for(kind, emu)
    with pytest.raises(ProviderError) as info:
        await opened(endpoint).complete(MESSAGES, CallOptions())
    error = info.value
    assert type(error) is FAULTS[fault][kind]
    assert (error.llm, error.provider, error.base_url) == (endpoint.llm, kind, endpoint.base_url)
    text = str(error)
    assert endpoint.llm in text and endpoint.base_url in text and "\n" not in text
    assert not any(key in text for key in KEYS)
    assert_no_canary(text, f"the {type(error).__name__} text")
    assert len(await logged_requests(emu)) == 1  # one attempt: the SDKs' own retries are off


@pytest.mark.parametrize("kind", ["openai", "claude", "zhipu"])
async def test_rate_limit_carries_the_servers_retry_after(kind: str, make_emulator: Any, opened: Any) -> None:
    emu = make_emulator(faults="429", retry_after_ms=1500)
    with pytest.raises(RateLimitError) as info:
        await opened(endpoint_for(kind, emu)).complete(MESSAGES, CallOptions())
    assert info.value.retry_after == pytest.approx(1.5)


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_cut_short_is_a_transport_error(kind: str, make_emulator: Any, opened: Any) -> None:
    emu = make_emulator(faults="truncate")
    with pytest.raises(TransportError):
        await collect(opened(endpoint_for(kind, emu)))


@pytest.mark.parametrize("kind", ["openai", "claude", "zhipu"])
async def test_body_cut_short_is_a_transport_error(kind: str, make_emulator: Any, opened: Any) -> None:
    emu = make_emulator(faults="truncate")
    with pytest.raises(TransportError):
        await opened(endpoint_for(kind, emu)).complete(MESSAGES, CallOptions())


@pytest.mark.parametrize("kind", KINDS)
async def test_an_error_inside_a_started_stream_is_a_server_error(
    kind: str, make_emulator: Any, opened: Any
) -> None:
    emu = make_emulator(faults="midstream")
    with pytest.raises(ServerError):
        await collect(opened(endpoint_for(kind, emu)))


async def test_spark_socket_closed_cleanly_before_the_last_frame_is_a_transport_error(
    make_emulator: Any, opened: Any
) -> None:
    emu = make_emulator(faults="wsclose")
    with pytest.raises(TransportError, match="closed before the last frame"):
        await opened(endpoint_for("spark", emu)).complete(MESSAGES, CallOptions())


@pytest.mark.parametrize("kind", KINDS)
async def test_a_server_that_never_answers_times_out_as_a_transport_error(
    kind: str, make_emulator: Any, opened: Any
) -> None:
    emu = make_emulator(faults="timeout")
    provider = TimeoutProvider(opened(endpoint_for(kind, emu, timeout=0.3)))
    with pytest.raises(TransportError):
        await provider.complete(MESSAGES, CallOptions())


async def test_a_refused_connection_is_a_transport_error(opened: Any) -> None:
    class Gone:
        base_url = "http://127.0.0.1:9"
        ws_url = "ws://127.0.0.1:9"

    for kind in KINDS:
        with pytest.raises(TransportError):
            await opened(endpoint_for(kind, Gone)).complete(MESSAGES, CallOptions())
