"""polyteam.redact: registered secrets, secret-looking patterns, and what must stay intact."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

import polyteam.redact as redaction
from canary import (
    ANTHROPIC_API_KEY,
    OPENAI_API_KEY,
    SPARK_API_KEY,
    SPARK_API_SECRET,
    ZHIPUAI_API_KEY,
    ZHIPUAI_SECRET,
    find_canaries,
)
from polyteam.providers._signing import spark_signed_url
from polyteam.redact import MASK, redact, redact_obj, register_secret


@pytest.fixture(autouse=True)
def _no_registered_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # each test starts with an empty registry (earlier tests registered the canaries), so a test
    # "without registration" really has none; the suite's registrations come back afterwards
    monkeypatch.setattr(redaction, "_secrets", set())
    monkeypatch.setattr(redaction, "_secret_re", None)


def test_registered_secret_is_masked_everywhere_in_text() -> None:
    register_secret(SPARK_API_SECRET)
    out = redact(f"error signing with {SPARK_API_SECRET}; again {SPARK_API_SECRET}!")
    assert SPARK_API_SECRET not in out
    assert out.count(MASK) == 2


def test_zhipu_secret_half_alone_is_masked() -> None:
    register_secret(ZHIPUAI_API_KEY)
    assert redact(f"secret half {ZHIPUAI_SECRET} here") == f"secret half {MASK} here"
    assert redact(f"key {ZHIPUAI_API_KEY}") == f"key {MASK}"


def test_unregistered_zhipu_shaped_key_is_masked_by_pattern() -> None:
    key = "0123456789abcdef0123456789abcdef.AbCdEfGhIjKlMnOp"
    assert key not in redact(f"using {key}")


def test_openai_and_anthropic_style_keys_masked_without_registration() -> None:
    text = f"keys {OPENAI_API_KEY} and {ANTHROPIC_API_KEY}"
    assert find_canaries(redact(text)) == []


def test_bearer_jwt_and_basic_auth_url() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJhcGlfa2V5IjoiaWQifQ.c2lnbmF0dXJlLXZhbHVl"
    out = redact(f"Authorization: Bearer {jwt} at https://user:hunter2@host/v1")
    assert jwt not in out and "hunter2" not in out
    assert "https://user:***@host/v1" in out


def test_signed_spark_url_query_is_masked() -> None:
    origin = f'api_key="{SPARK_API_KEY}", algorithm="hmac-sha256", headers="host date request-line"'
    auth = quote(base64.b64encode(origin.encode()).decode())
    url = (
        f"wss://spark-api.xf-yun.com/v3.5/chat?authorization={auth}&date=Fri%2C+23&host=spark-api.xf-yun.com"
    )
    out = redact(url)
    assert auth not in out
    assert out.startswith("wss://spark-api.xf-yun.com/v3.5/chat?authorization=***&date=")


def test_a_signed_spark_url_is_masked_whole_when_its_key_is_registered() -> None:
    # every real run registers the key before it signs a URL: the signature must not survive either
    register_secret(SPARK_API_KEY)
    register_secret(SPARK_API_SECRET)
    url = spark_signed_url(
        "wss://spark-api.xf-yun.com/v3.5/chat", SPARK_API_KEY, SPARK_API_SECRET, 1_700_000_000
    )
    assert redact(f"connect to {url} failed").startswith(
        "connect to wss://spark-api.xf-yun.com/v3.5/chat?authorization=***&date="
    )


def test_registered_spark_key_also_masked_inside_base64_authorization_text() -> None:
    register_secret(SPARK_API_KEY)
    origin = f'api_key="{SPARK_API_KEY}", algorithm="hmac-sha256"'
    blob = base64.b64encode(origin.encode()).decode()
    assert find_canaries(redact(f"frame: {blob}")) == []


def test_url_quoted_form_of_registered_secret() -> None:
    secret = "a+b/c=d-secret-value"
    register_secret(secret)
    assert quote(secret, safe="") not in redact(f"x?k={quote(secret, safe='')}")


def test_key_value_credentials() -> None:
    assert redact("SPARK_API_SECRET: abcdefgh1234") == "SPARK_API_SECRET: ***"
    assert redact('{"password": "hunter22"}') == '{"password": "***"}'
    assert redact("x-api-key=abcd1234efgh") == "x-api-key=***"


def test_code_and_token_counts_stay_intact() -> None:
    code = 'api_key = os.environ["OPENAI_API_KEY"]\nprint(usage.input_tokens)'
    assert redact(code) == code
    assert redact("input_tokens: 12, output_tokens: 7") == "input_tokens: 12, output_tokens: 7"


def test_short_values_are_not_registered() -> None:
    register_secret("abc")
    register_secret(None)
    register_secret("")
    assert redact("abc") == "abc"


def test_redact_obj_walks_dicts_lists_and_keys() -> None:
    register_secret(SPARK_API_SECRET)
    data = {"a": [SPARK_API_SECRET, 3, None, (OPENAI_API_KEY,)], SPARK_API_SECRET: {"n": 1.5}}
    out = redact_obj(data)
    assert find_canaries(repr(out)) == []
    assert out["a"][1:3] == [3, None]
    assert out[MASK] == {"n": 1.5}
