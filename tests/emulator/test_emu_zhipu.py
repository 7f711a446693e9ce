"""The emulator's Zhipu v4 wire over real sockets (aiohttp client), with JWTs signed here by pyjwt."""

from __future__ import annotations

import json
import time
import warnings

import aiohttp
import jwt
import pytest

from canary import ZHIPUAI_API_KEY, ZHIPUAI_ID, ZHIPUAI_SECRET, assert_no_canary

PATH = "/api/paas/v4/chat/completions"
BODY = {
    "model": "glm-4",
    "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "say hello"}],
}
CREDENTIALS = {"zhipu": {ZHIPUAI_ID: ZHIPUAI_SECRET}}
AUTH = f"Bearer {ZHIPUAI_API_KEY}"  # accepted by an emulator without credentials


def token(key_id: str = ZHIPUAI_ID, secret: str = ZHIPUAI_SECRET, ttl_ms: int = 210_000) -> str:
    now = int(round(time.time() * 1000))
    with warnings.catch_warnings():  # the short test secret is fine here
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(
            {"api_key": key_id, "exp": now + ttl_ms, "timestamp": now},
            secret,
            algorithm="HS256",
            headers={"alg": "HS256", "sign_type": "SIGN"},
        )


async def post(emu, authorization: str | None, body: dict = BODY, prefix: str = "") -> tuple[int, str, dict]:
    headers = {"Authorization": authorization} if authorization is not None else {}
    url = f"{emu.base_url}{prefix}{PATH}"
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers) as resp:
        return resp.status, (await resp.read()).decode(), dict(resp.headers)


@pytest.mark.parametrize("form", ["bearer-jwt", "bare-jwt", "bearer-key", "bare-key"])
async def test_accepts_bearer_and_bare_keys_and_jwts(make_emulator, form):
    emu = make_emulator(credentials=CREDENTIALS)
    value = token() if form.endswith("jwt") else ZHIPUAI_API_KEY
    status, raw, _ = await post(emu, f"Bearer {value}" if form.startswith("bearer") else value)
    assert status == 200, raw
    data = json.loads(raw)
    assert "object" not in data and data["request_id"] == data["id"]
    assert data["choices"][0]["message"]["content"] == "echo: say hello"
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["completion_tokens"] == 4 and data["usage"]["total_tokens"] > 4


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "1001"),
        ({"secret": "wrong-secret"}, "1004"),
        ({"ttl_ms": -1000}, "1003"),
        ({"key_id": "other"}, "1002"),
        (f"{ZHIPUAI_ID}.wrong{ZHIPUAI_SECRET}", "1002"),  # holds the canary: an echo would be caught
    ],
)
async def test_bad_credentials_are_401_with_string_codes(make_emulator, authorization, code):
    emu = make_emulator(credentials=CREDENTIALS)
    if isinstance(authorization, dict):
        authorization = "Bearer " + token(**authorization)
    status, raw, _ = await post(emu, authorization)
    assert status == 401 and json.loads(raw) == {
        "error": {"code": code, "message": json.loads(raw)["error"]["message"]}
    }
    assert ZHIPUAI_SECRET not in raw and emu.requests[0]["status"] == 401
    assert_no_canary(raw, "the 401 body")


async def test_any_key_without_credentials(emulator):
    status, _, _ = await post(emulator, "whatever")
    assert status == 200


async def test_stream_ends_with_finish_reason_and_usage_then_done(emulator):
    status, raw, headers = await post(emulator, AUTH, {**BODY, "stream": True})
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = [e for e in raw.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert all("object" not in c and c["choices"][0]["delta"]["role"] == "assistant" for c in chunks)
    assert all("usage" not in c and c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert (
        chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["usage"]["completion_tokens"] == 4
    )
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "echo: say hello"


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("quota", 429, "1113"),
        ("429", 429, "1302"),
        ("auth", 401, "1002"),
        ("500", 500, "500"),
        ("503", 503, "1305"),
        ("529", 503, "1312"),
        ("filter", 400, "1301"),
        ("context", 400, "1261"),
    ],
)
async def test_error_faults_use_zhipu_codes(make_emulator, fault, status, code):
    emu = make_emulator(faults=f"{fault}@zhipu")
    got_status, raw, _ = await post(emu, AUTH)
    assert got_status == status and json.loads(raw)["error"]["code"] == code
    assert_no_canary(raw, f"the {fault} body")
    assert (await post(emu, AUTH))[0] == 200


async def test_midstream_error_chunk(make_emulator):
    emu = make_emulator(faults="midstream", responder=lambda req: "word " * 40)
    status, raw, _ = await post(emu, AUTH, {**BODY, "stream": True})
    events = [e for e in raw.split("\n\n") if e]
    assert status == 200 and json.loads(events[-1].removeprefix("data: "))["error"]["code"] == "500"
    assert "[DONE]" not in raw


async def test_response_format_and_bad_bodies(emulator):
    status, _, _ = await post(emulator, ZHIPUAI_API_KEY, {**BODY, "response_format": {"type": "json_object"}})
    assert status == 200
    status, raw, _ = await post(emulator, ZHIPUAI_API_KEY, {"messages": BODY["messages"]})
    assert status == 400 and json.loads(raw)["error"]["code"] == "1214"
