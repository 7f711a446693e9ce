"""The emulator's credential checks against the test vectors of wire-protocols.md §2c (Spark) and §2d (Zhipu)."""

from __future__ import annotations

import base64
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest

from polyteam.emulator.signing import spark_sign_url, spark_signature, verify_spark_url, verify_zhipu_token

KEY = "apikeyXXXXXXXXXXXXXXXXXXXXXXXXXX"
SECRET = "apisecretXXXXXXXXXXXXXXXXXXXXXXX"
DATE = "Fri, 23 Apr 2021 02:35:47 GMT"
SIGNED_AT = parsedate_to_datetime(DATE).timestamp()
VECTOR_URL = (
    "wss://spark-api.xf-yun.com/v3.5/chat?authorization=YXBpX2tleT0iYXBpa2V5WFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFgiLCB"
    "hbGdvcml0aG09ImhtYWMtc2hhMjU2IiwgaGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iZm5hTlMyREpHMW1QZ2w"
    "5VXRxTWFsY2NtUHZXMTJ5RlNxV0tDSTZKMitocz0i&date=Fri%2C+23+Apr+2021+02%3A35%3A47+GMT&host=spark-api.xf-yun.com"
)
ZHIPU_VECTOR = (
    "eyJhbGciOiJIUzI1NiIsInNpZ25fdHlwZSI6IlNJR04iLCJ0eXAiOiJKV1QifQ.eyJhcGlfa2V5IjoibXlpZCIsImV4cCI6MTcwMDAwMDIxMD"
    "AwMCwidGltZXN0YW1wIjoxNzAwMDAwMDAwMDAwfQ.avX1XuHZ8SuJnkC3W7AThjSqy1-tPAAb7zFo6JFymQI"
)


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_spark_signature_matches_the_official_post_example():
    assert (
        spark_signature(SECRET, "api.xf-yun.com", DATE, "/v1/private/s782b4996", method="POST")
        == "1jwQbIAKmQE7JwIH0IDxiC1pejrlN+VpHXDWOFVy5NM="
    )


def test_spark_signed_url_matches_the_reference_vector():
    assert spark_signature(SECRET, "spark-api.xf-yun.com", DATE, "/v3.5/chat") == (
        "fnaNS2DJG1mPgl9UtqMalccmPvW12yFSqWKCI6J2+hs="
    )
    assert spark_sign_url("wss://spark-api.xf-yun.com/v3.5/chat", KEY, SECRET, DATE) == VECTOR_URL


def test_spark_verifier_accepts_the_vector_and_rejects_like_the_gateway():
    query = _query(VECTOR_URL)
    host, path = "spark-api.xf-yun.com", "/v3.5/chat"
    assert verify_spark_url(query, host, path, {KEY: SECRET}, now=SIGNED_AT + 299) is None
    assert verify_spark_url(query, host, path, None, now=SIGNED_AT) is None  # no secrets: any key
    wrong = verify_spark_url(query, host, path, {KEY: "another-secret"}, now=SIGNED_AT)
    assert (wrong.status, wrong.message) == (401, "HMAC signature does not match")
    unknown = verify_spark_url(query, host, path, {"otherkey": SECRET}, now=SIGNED_AT)
    assert (unknown.status, unknown.message) == (401, "HMAC signature cannot be verified")
    stale = verify_spark_url(query, host, path, {KEY: SECRET}, now=SIGNED_AT + 301)
    assert stale.status == 403 and "valid date" in stale.message
    other_path = verify_spark_url(query, host, "/v4.0/chat", {KEY: SECRET}, now=SIGNED_AT)
    assert other_path.status == 401  # the request-line is signed
    other_host = verify_spark_url(query, "evil.example", path, {KEY: SECRET}, now=SIGNED_AT)
    assert other_host.status == 401
    missing = verify_spark_url({"date": DATE, "host": host}, host, path, None, now=SIGNED_AT)
    assert (missing.status, missing.message) == (401, "Unauthorized")
    garbage = verify_spark_url({**query, "authorization": "!!!"}, host, path, None, now=SIGNED_AT)
    assert (garbage.status, garbage.message) == (401, "HMAC signature cannot be verified")


def test_spark_verifier_tolerates_the_sparkai_sdk_spacing():
    signature = spark_signature(SECRET, "spark-api.xf-yun.com", DATE, "/v3.5/chat")
    origin = f'api_key="{KEY}", algorithm="hmac-sha256",         headers="host date request-line", signature="{signature}"'
    query = {
        "authorization": base64.b64encode(origin.encode()).decode(),
        "date": DATE,
        "host": "spark-api.xf-yun.com",
    }
    assert verify_spark_url(query, "spark-api.xf-yun.com", "/v3.5/chat", {KEY: SECRET}, now=SIGNED_AT) is None


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_zhipu_jwt_vector_is_what_pyjwt_signs_and_what_the_verifier_accepts():
    now = 1700000000000
    token = jwt.encode(
        {"api_key": "myid", "exp": now + 210_000, "timestamp": now},
        "mysecret",
        algorithm="HS256",
        headers={"alg": "HS256", "sign_type": "SIGN"},
    )
    assert token == ZHIPU_VECTOR
    secrets = {"myid": "mysecret"}
    assert verify_zhipu_token(f"Bearer {ZHIPU_VECTOR}", secrets, now_ms=now + 1000) is None
    assert (
        verify_zhipu_token(ZHIPU_VECTOR, secrets, now_ms=now + 1000) is None
    )  # bare, as the first v4 SDK sent it


@pytest.mark.parametrize(
    ("authorization", "now_ms", "code"),
    [
        (f"Bearer {ZHIPU_VECTOR}", 1700000000000 + 210_001, "1003"),  # exp is in milliseconds
        (None, 1700000000000, "1001"),
        ("Bearer ", 1700000000000, "1001"),
        ("myid.wrong", 1700000000000, "1002"),
        ("Bearer not-a-token", 1700000000000, "1002"),
    ],
)
def test_zhipu_rejections_carry_string_codes(authorization, now_ms, code):
    rejection = verify_zhipu_token(authorization, {"myid": "mysecret"}, now_ms=now_ms)
    assert rejection is not None and rejection.status == 401 and rejection.code == code


def test_zhipu_wrong_secret_and_plain_keys():
    assert verify_zhipu_token(ZHIPU_VECTOR, {"myid": "other"}, now_ms=1700000000000).code == "1004"
    assert verify_zhipu_token("Bearer myid.mysecret", {"myid": "mysecret"}) is None
    assert verify_zhipu_token("anything at all", None) is None  # no credentials: any non-empty value
