"""Zhipu JWT and Spark URL signing: the reference vectors, the token cache, and servers that verify them."""

from __future__ import annotations

import calendar
import time
from typing import Any

import jwt
import pytest
from _provider_endpoints import SPARK_SECRET, ZHIPU_ID, ZHIPU_SECRET, endpoint_for, verifying_credentials

from canary import assert_no_canary
from polyteam.errors import AuthError
from polyteam.providers._signing import (
    ZhipuToken,
    rfc1123_date,
    spark_signature,
    spark_signed_url,
    zhipu_jwt,
)
from polyteam.providers.base import CallOptions, Message
from polyteam.providers.spark import SparkProvider
from polyteam.providers.zhipu import ZhipuProvider

# wire-protocols.md §2d
ZHIPU_VECTOR = (
    "eyJhbGciOiJIUzI1NiIsInNpZ25fdHlwZSI6IlNJR04iLCJ0eXAiOiJKV1QifQ."
    "eyJhcGlfa2V5IjoibXlpZCIsImV4cCI6MTcwMDAwMDIxMDAwMCwidGltZXN0YW1wIjoxNzAwMDAwMDAwMDAwfQ."
    "avX1XuHZ8SuJnkC3W7AThjSqy1-tPAAb7zFo6JFymQI"
)
# wire-protocols.md §2c
SPARK_DATE = "Fri, 23 Apr 2021 02:35:47 GMT"
SPARK_NOW = calendar.timegm(time.strptime(SPARK_DATE, "%a, %d %b %Y %H:%M:%S GMT"))
SPARK_KEY_V, SPARK_SECRET_V = "apikeyXXXXXXXXXXXXXXXXXXXXXXXXXX", "apisecretXXXXXXXXXXXXXXXXXXXXXXX"
SPARK_URL_VECTOR = (
    "wss://spark-api.xf-yun.com/v3.5/chat?authorization=YXBpX2tleT0iYXBpa2V5WFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhY"
    "WFgiLCBhbGdvcml0aG09ImhtYWMtc2hhMjU2IiwgaGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iZm5h"
    "TlMyREpHMW1QZ2w5VXRxTWFsY2NtUHZXMTJ5RlNxV0tDSTZKMitocz0i&date=Fri%2C+23+Apr+2021+02%3A35%3A47+GMT"
    "&host=spark-api.xf-yun.com"
)
MESSAGES = [Message("user", "sign me")]


def test_zhipu_jwt_matches_the_reference_vector() -> None:
    assert zhipu_jwt("myid.mysecret", 1_700_000_000_000) == ZHIPU_VECTOR


def test_zhipu_jwt_rejects_a_key_without_a_secret_half() -> None:
    with pytest.raises(ValueError, match="<id>.<secret>"):
        zhipu_jwt("no-dot-here", 0)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_zhipu_token_is_reused_until_thirty_seconds_before_expiry() -> None:
    now = [1_700_000_000.0]
    token = ZhipuToken("myid.mysecret", clock=lambda: now[0])
    first = token.get()
    assert first == ZHIPU_VECTOR
    now[0] += 179.0  # exp is +210 s: still more than 30 s left
    assert token.get() == first
    now[0] += 2.0
    second = token.get()
    assert second != first
    claims = jwt.decode(second, "mysecret", algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"api_key": "myid", "timestamp": 1_700_000_181_000, "exp": 1_700_000_391_000}


def test_spark_signature_and_url_match_the_reference_vectors() -> None:
    assert rfc1123_date(SPARK_NOW) == SPARK_DATE
    request_line = "POST /v1/private/s782b4996 HTTP/1.1"
    assert spark_signature(SPARK_SECRET_V, "api.xf-yun.com", SPARK_DATE, request_line) == (
        "1jwQbIAKmQE7JwIH0IDxiC1pejrlN+VpHXDWOFVy5NM="
    )
    url = spark_signed_url("wss://spark-api.xf-yun.com/v3.5/chat", SPARK_KEY_V, SPARK_SECRET_V, SPARK_NOW)
    assert url == SPARK_URL_VECTOR


async def test_a_verifying_emulator_accepts_the_zhipu_jwt_and_the_spark_signature(make_emulator: Any) -> None:
    emu = make_emulator(credentials=verifying_credentials())
    for provider in (ZhipuProvider(endpoint_for("zhipu", emu)), SparkProvider(endpoint_for("spark", emu))):
        try:
            completion = await provider.complete(MESSAGES, CallOptions())
        finally:
            await provider.aclose()
        assert completion.text == "echo: sign me"


@pytest.mark.parametrize("kind", ["zhipu", "spark"])
async def test_a_wrong_secret_is_an_auth_error(kind: str, make_emulator: Any) -> None:
    emu = make_emulator(credentials=verifying_credentials())
    if kind == "zhipu":
        provider: Any = ZhipuProvider(endpoint_for("zhipu", emu, api_key=f"{ZHIPU_ID}.wrong{ZHIPU_SECRET}"))
    else:
        provider = SparkProvider(endpoint_for("spark", emu, api_secret="wrong" + SPARK_SECRET))
    try:
        with pytest.raises(AuthError) as info:
            await provider.complete(MESSAGES, CallOptions())
    finally:
        await provider.aclose()
    assert (
        info.value.status == 401
        and ZHIPU_SECRET not in str(info.value)
        and SPARK_SECRET not in str(info.value)
    )
    assert_no_canary(str(info.value), "the AuthError text")


async def test_a_spark_clock_off_by_an_hour_is_refused_as_auth(make_emulator: Any) -> None:
    emu = make_emulator(credentials=verifying_credentials())
    provider = SparkProvider(endpoint_for("spark", emu), clock=lambda: time.time() - 3600)
    with pytest.raises(AuthError) as info:
        await provider.complete(MESSAGES, CallOptions())
    assert info.value.status == 403
    assert_no_canary(str(info.value), "the AuthError text")


async def test_an_expired_zhipu_token_from_a_slow_clock_is_refused(make_emulator: Any) -> None:
    emu = make_emulator(credentials=verifying_credentials())
    provider = ZhipuProvider(endpoint_for("zhipu", emu), clock=lambda: time.time() - 3600)
    try:
        with pytest.raises(AuthError) as info:
            await provider.complete(MESSAGES, CallOptions())
    finally:
        await provider.aclose()
    assert_no_canary(str(info.value), "the AuthError text")
