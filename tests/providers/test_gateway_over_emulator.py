"""The gateway's retry, Retry-After, fallback and concurrency limit over real providers and emulator faults,
counting the requests each endpoint received."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _provider_endpoints import endpoint_for

from canary import assert_no_canary
from polyteam.errors import FallbackExhaustedError, QuotaExhaustedError, ServerError
from polyteam.gateway import Gateway
from polyteam.providers.base import Endpoint, Message
from polyteam.routing import Route

MESSAGES = [Message("user", "hello")]


class Router:
    """Every route goes to `first`; `endpoint()` knows every LLM given."""

    def __init__(self, *endpoints: Endpoint) -> None:
        self.endpoints = {ep.llm: ep for ep in endpoints}
        self.first = endpoints[0]

    def route(self, role: str, action: str) -> Route:
        return Route(role=role, action=action, llm=self.first.llm, source="default", endpoint=self.first)

    def endpoint(self, llm: str) -> Endpoint:
        return self.endpoints[llm]


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def by_model(emu: Any, count: int) -> dict[str, int]:
    assert emu.wait_for_requests(count)
    counts: dict[str, int] = {}
    for record in emu.requests:
        counts[record["model"]] = counts.get(record["model"], 0) + 1
    return counts


async def test_rate_limits_are_retried_after_the_servers_retry_after(make_emulator: Any) -> None:
    emu = make_emulator(faults="429:2@gpt-4o-mini", retry_after_ms=250)
    sleeps = Sleeps()
    gateway = Gateway(Router(endpoint_for("openai", emu)), sleep=sleeps)
    try:
        answer = await gateway.ask("ProductManager", "WritePRD", MESSAGES)
    finally:
        await gateway.aclose()
    assert answer.completion.text == "echo: hello" and answer.attempts == 3
    assert sleeps.waits == [0.25, 0.25]
    assert await asyncio.to_thread(by_model, emu, 3) == {"gpt-4o-mini": 3}
    assert [r.error for r in gateway.attempts] == ["rate_limited", "rate_limited", None]


async def test_fallback_moves_on_after_exhausted_retries_and_after_quota(make_emulator: Any) -> None:
    emu = make_emulator(faults="500:*@gpt-4o-mini,quota:*@glm-4")
    openai_ep = endpoint_for("openai", emu, fallback=("zhipu", "claude"))
    gateway = Gateway(
        Router(openai_ep, endpoint_for("zhipu", emu), endpoint_for("claude", emu)),
        sleep=Sleeps(),
        max_attempts=2,
    )
    try:
        answer = await gateway.ask("Architect", "WriteDesign", MESSAGES)
    finally:
        await gateway.aclose()
    assert answer.llm == "claude" and answer.endpoint.kind == "claude"
    counts = await asyncio.to_thread(by_model, emu, 4)
    assert counts == {"gpt-4o-mini": 2, "glm-4": 1, "claude-3-5-sonnet": 1}  # quota is never retried


async def test_every_llm_failing_reports_each_error(make_emulator: Any) -> None:
    emu = make_emulator(faults="529:*")
    gateway = Gateway(
        Router(endpoint_for("claude", emu, fallback=("spark",)), endpoint_for("spark", emu)), sleep=Sleeps()
    )
    try:
        with pytest.raises(FallbackExhaustedError) as info:
            await gateway.ask("Architect", "WriteDesign", MESSAGES)
    finally:
        await gateway.aclose()
    assert [type(e) for e in info.value.errors] == [ServerError, ServerError]
    assert_no_canary(str(info.value), "the FallbackExhaustedError text")
    assert await asyncio.to_thread(by_model, emu, 6) == {"claude-3-5-sonnet": 3, "generalv3.5": 3}


async def test_zhipu_quota_with_http_429_is_not_retried(make_emulator: Any) -> None:
    emu = make_emulator(faults="quota")
    gateway = Gateway(Router(endpoint_for("zhipu", emu)), sleep=Sleeps())
    try:
        with pytest.raises(QuotaExhaustedError) as info:
            await gateway.ask("Engineer", "WriteCode", MESSAGES)
    finally:
        await gateway.aclose()
    assert_no_canary(str(info.value), "the QuotaExhaustedError text")
    assert await asyncio.to_thread(by_model, emu, 1) == {"glm-4": 1}


async def test_the_concurrency_limit_holds_at_the_server(make_emulator: Any) -> None:
    emu = make_emulator(latency_ms=40)
    gateway = Gateway(Router(endpoint_for("open_llm", emu, max_concurrency=2)))
    try:
        answers = await asyncio.gather(*(gateway.ask("Engineer", "WriteCode", MESSAGES) for _ in range(6)))
    finally:
        await gateway.aclose()
    assert len(answers) == 6
    await asyncio.to_thread(by_model, emu, 6)
    assert emu.max_in_flight("llama-3-8b") == 2
