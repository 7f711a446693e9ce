"""The vendor business codes that decide an error's class (Zhipu strings, Spark frames)."""

from __future__ import annotations

from typing import Any

import pytest
from _provider_endpoints import endpoint_for

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
)
from polyteam.providers.spark import SparkFrameError, SparkProvider
from polyteam.providers.zhipu import ZhipuProvider


class Nowhere:
    base_url = "http://127.0.0.1:9"
    ws_url = "ws://127.0.0.1:9"


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("1113", 429, QuotaExhaustedError),  # quota even though HTTP says rate limit
        ("1261", 400, ContextTooLongError),
        ("1301", 400, ContentFilteredError),
        ("1302", 429, RateLimitError),
        ("1303", 429, RateLimitError),
        ("1000", 401, AuthError),
        ("1004", 401, AuthError),
        ("1211", 400, BadRequestError),
        ("9999", 500, ServerError),  # unknown code: the HTTP status decides
        ("9999", 429, RateLimitError),
    ],
)
def test_zhipu_string_codes_decide_before_the_status(
    code: str, status: int, cls: type[ProviderError]
) -> None:
    provider = ZhipuProvider(endpoint_for("zhipu", Nowhere))
    error = provider._classify(status, code, "", "message", 2.0)
    assert type(error) is cls and error.code == code and error.llm == "zhipu"
    if isinstance(error, RateLimitError | ServerError):
        assert error.retry_after == 2.0


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        *((c, ContentFilteredError) for c in (10013, 10014, 10019, 10021, 10022)),
        (10907, ContextTooLongError),
        *((c, QuotaExhaustedError) for c in (11200, 11201)),
        *((c, RateLimitError) for c in (11202, 11203, 10006, 10007)),
        *((c, BadRequestError) for c in (10003, 10004, 10005, 10163)),
        *((c, AuthError) for c in (10015, 10016)),
        *((c, ServerError) for c in (10000, 10008, 10012, 10110, 10222, 10223)),
    ],
)
def test_spark_error_frames_map_by_code(code: int, cls: type[ProviderError]) -> None:
    provider = SparkProvider(endpoint_for("spark", Nowhere))
    error = provider._map_error(SparkFrameError(code, "frame message"))
    assert type(error) is cls and error.code == str(code) and "frame message" in str(error)


async def test_spark_domain_not_matching_the_url_is_a_bad_request(emulator: Any) -> None:
    from polyteam.providers.base import CallOptions, Message

    provider = SparkProvider(endpoint_for("spark", emulator, base_url=f"{emulator.ws_url}/v1.1/chat"))
    with pytest.raises(BadRequestError) as info:
        await provider.complete([Message("user", "hi")], CallOptions())
    assert info.value.code == "10005"
    assert_no_canary(str(info.value), "the BadRequestError text")
