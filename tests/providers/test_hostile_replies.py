"""Replies the real services should never send, from a hostile server of our own: each becomes a
ProviderError that retry and fallback handle, or a bounded, marked reply; never a traceback or a hang."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _hostile import Hostile

from polyteam.config import load_settings
from polyteam.config.local import LocalSupport
from polyteam.errors import ServerError, TransportError
from polyteam.gateway import Gateway, TimeoutProvider
from polyteam.providers import make_provider
from polyteam.providers._common import TRUNCATION_MARK
from polyteam.providers.base import CallOptions, Completion, Message

NO_LOCAL = lambda: LocalSupport(bundled_gguf=None, has_xllamacpp=False)  # noqa: E731
HELLO = [Message("user", "hello")]


def router_for(tmp_path: Path, server: Hostile, behaviour: str, extra: str = "") -> Any:
    multi = (
        f"DEFAULT_LLM: bad\nMODEL_LIST:\n  bad:\n    base_url: {server.base(behaviour)}\n    model: m\n{extra}"
        f"  good:\n    base_url: {server.base('good')}\n    model: m\n"
    )
    (tmp_path / "multi_llm_config.yaml").write_text(multi)
    return load_settings(tmp_path, {}, probe=NO_LOCAL).router


@pytest.mark.parametrize("behaviour", ["bad-utf8", "string-usage", "negative"])
async def test_malformed_replies_are_retried_server_errors_then_fall_back(
    tmp_path: Path, behaviour: str
) -> None:
    with Hostile() as server:
        alone = Gateway(router_for(tmp_path, server, behaviour), max_attempts=2, sleep=_no_wait)
        try:
            with pytest.raises(ServerError, match="malformed"):
                await alone.ask("ProductManager", "WritePRD", HELLO)
        finally:
            await alone.aclose()
        assert server.hits[behaviour] == 2  # retried: ServerError is retryable
        gateway = Gateway(router_for(tmp_path, server, behaviour, "    fallback: good\n"), max_attempts=1)
        try:
            answer = await gateway.ask("ProductManager", "WritePRD", HELLO)
        finally:
            await gateway.aclose()
    assert answer.completion.text == "fine" and answer.llm == "good"


async def test_a_failed_requests_id_is_kept_bounded_plain_and_without_the_key(tmp_path: Path) -> None:
    # issue 16: a failed attempt's ledger line names the provider's request id; the header is the server's text
    (tmp_path / "multi_llm_config.yaml").write_text(
        "DEFAULT_LLM: bad\nMODEL_LIST:\n  bad:\n    base_url: BASE\n    model: m\n"
        "    api_key: sk-hostile-canary-0123456789\n"
    )
    with Hostile() as server:
        text = (tmp_path / "multi_llm_config.yaml").read_text().replace("BASE", server.base("bad-request-id"))
        (tmp_path / "multi_llm_config.yaml").write_text(text)
        router = load_settings(tmp_path, {}, probe=NO_LOCAL).router
        provider = make_provider(router.default)
        try:
            with pytest.raises(ServerError) as caught:
                await provider.complete(HELLO, CallOptions())
        finally:
            await provider.aclose()
    rid = caught.value.request_id
    assert rid is not None and rid.startswith("req_b999") and len(rid) <= 128
    assert "<" not in rid and ";" not in rid and "0123456789" not in rid


async def _no_wait(_seconds: float) -> None:
    return None


async def test_a_reply_far_over_max_tokens_is_cut_and_marked(tmp_path: Path) -> None:
    with Hostile() as server:
        gateway = Gateway(router_for(tmp_path, server, "huge"), max_attempts=1)
        try:
            answer = await gateway.ask("ProductManager", "WritePRD", HELLO, CallOptions(max_tokens=100))
        finally:
            await gateway.aclose()
    completion = answer.completion
    assert completion.truncated and completion.finish_reason == "length"
    assert completion.text.endswith(TRUNCATION_MARK) and len(completion.text) < 100 * 16 + 100


async def test_a_stream_far_over_max_tokens_stops_being_read_and_is_cut(tmp_path: Path) -> None:
    with Hostile() as server:
        provider = make_provider(router_for(tmp_path, server, "huge").endpoint("bad"))
        try:
            items = [item async for item in provider.stream(HELLO, CallOptions(max_tokens=100))]
        finally:
            await provider.aclose()
    completion = items[-1]
    assert isinstance(completion, Completion) and completion.truncated
    assert completion.text.endswith(TRUNCATION_MARK) and len(completion.text) < 100 * 16 + 100
    assert len(items) - 1 <= 3  # 1,000 characters a chunk: it stopped at the bound, not at 10 MB


async def test_a_silent_server_ends_in_a_retried_transport_error(tmp_path: Path) -> None:
    with Hostile() as server:
        gateway = Gateway(
            router_for(tmp_path, server, "silent", "    timeout: 0.5\n"), max_attempts=2, sleep=_no_wait
        )
        try:
            with pytest.raises(TransportError, match="no reply within 0.5 s"):
                await gateway.ask("ProductManager", "WritePRD", HELLO)
        finally:
            await gateway.aclose()
        assert server.hits["silent"] == 2  # a timeout is retryable


async def test_a_stalled_stream_ends_at_the_idle_deadline(tmp_path: Path) -> None:
    with Hostile() as server:
        endpoint = router_for(tmp_path, server, "stall", "    timeout: 1\n").endpoint("bad")
        provider = TimeoutProvider(make_provider(endpoint))
        received: list[Any] = []
        try:
            with pytest.raises(TransportError, match="idle for 0.5 s"):
                async for item in provider.stream(HELLO, CallOptions()):
                    received.append(item)
        finally:
            await provider.aclose()
    assert [getattr(item, "text", None) for item in received] == ["one"]


def test_every_kind_has_a_default_deadline() -> None:
    from polyteam.providers.kinds import SPECS, STREAM_IDLE_S, default_deadline

    assert all(0 < default_deadline(s.name) <= 1800 for s in SPECS) and STREAM_IDLE_S <= 60
