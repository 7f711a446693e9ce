"""The gateway's wrapper base (explicit forwarding), UsageError and FallbackExhaustedError as a group."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from polyteam.errors import (
    ConfigError,
    ContentFilteredError,
    FallbackExhaustedError,
    PolyteamError,
    QuotaExhaustedError,
    RateLimitError,
    UsageError,
)
from polyteam.gateway import (
    ConcurrencyLimitedProvider,
    MeteredProvider,
    RetryingProvider,
    TimeoutProvider,
    WrapperProvider,
)
from polyteam.providers.base import CallOptions, Completion, Delta, Endpoint, Message

MESSAGES = [Message("user", "hello")]
ENDPOINT = Endpoint(llm="a", kind="open_llm", base_url="http://127.0.0.1:9/v1", model="m")


class LoggingProvider:
    """Answers every call and logs which method was called."""

    def __init__(self) -> None:
        self.endpoint = ENDPOINT
        self.calls: list[str] = []

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        self.calls.append("complete")
        return Completion(text="done", input_tokens=1, output_tokens=1, model="m", finish_reason="stop")

    async def stream(
        self, messages: list[Message], options: CallOptions
    ) -> AsyncIterator[Delta | Completion]:
        self.calls.append("stream")
        yield Delta("do")
        yield Completion(text="do", input_tokens=1, output_tokens=1, model="m", finish_reason="stop")

    async def aclose(self) -> None:
        self.calls.append("aclose")


async def test_the_base_forwards_every_call_to_inner() -> None:
    inner = LoggingProvider()
    wrapper = WrapperProvider(WrapperProvider(inner))
    assert wrapper.endpoint is ENDPOINT
    assert (await wrapper.complete(MESSAGES, CallOptions())).text == "done"
    items = [item async for item in wrapper.stream(MESSAGES, CallOptions())]
    assert [type(i) for i in items] == [Delta, Completion]
    await wrapper.aclose()
    assert inner.calls == ["complete", "stream", "aclose"]


@pytest.mark.parametrize(
    "wrapper", [RetryingProvider, MeteredProvider, ConcurrencyLimitedProvider, TimeoutProvider]
)
async def test_each_gateway_wrapper_is_a_wrapper_provider_forwarding_aclose(wrapper: type) -> None:
    inner = LoggingProvider()
    provider = wrapper(inner)
    assert isinstance(provider, WrapperProvider) and provider.inner is inner
    assert provider.endpoint is ENDPOINT
    assert "__getattr__" not in vars(wrapper)
    await provider.aclose()
    assert inner.calls == ["aclose"]


def test_fallback_exhausted_is_an_exception_group_that_keeps_its_errors() -> None:
    errors: list[PolyteamError] = [RateLimitError("slow down", llm="a"), ContentFilteredError("no", llm="b")]
    group = FallbackExhaustedError(errors)
    assert isinstance(group, ExceptionGroup) and isinstance(group, PolyteamError)
    assert group.errors == errors and list(group.exceptions) == errors
    assert str(group).startswith("all LLMs failed: ") and "\n" not in str(group)
    assert "sub-exception" not in str(group)
    limited, rest = group.split(RateLimitError)
    assert isinstance(limited, FallbackExhaustedError) and limited.errors == errors[:1]
    assert isinstance(rest, FallbackExhaustedError) and rest.errors == errors[1:]
    caught: list[BaseException] = []
    try:
        raise FallbackExhaustedError([QuotaExhaustedError("spent", llm="a"), *errors])
    except* RateLimitError as limited_group:
        caught.extend(limited_group.exceptions)
    except* PolyteamError as others:
        caught.extend(others.exceptions)
    assert [type(e) for e in caught] == [RateLimitError, QuotaExhaustedError, ContentFilteredError]


def test_usage_error_is_one_line_and_not_a_config_error() -> None:
    error = UsageError("polyteam run", "--budget", "-1 is not a positive amount", "pass USD")
    assert str(error) == "polyteam run: --budget: -1 is not a positive amount; pass USD"
    assert error.issue.key == "--budget"
    assert not isinstance(error, ConfigError)
