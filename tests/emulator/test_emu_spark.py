"""The emulator's Spark WebSocket wire, driven by the `websockets` client with URLs signed here."""

from __future__ import annotations

import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus

from canary import SPARK_API_KEY, SPARK_API_SECRET, SPARK_APPID, assert_no_canary
from polyteam.emulator.signing import spark_rfc1123, spark_sign_url

KEY, SECRET = SPARK_API_KEY, SPARK_API_SECRET
CREDENTIALS = {"spark": {KEY: SECRET}}
LONG = "a reply long enough to be sent in several frames of text " * 4


def request_frame(domain: str = "generalv3.5", content: str = "say hello", **chat) -> str:
    return json.dumps(
        {
            "header": {"app_id": SPARK_APPID, "uid": "u1"},
            "parameter": {"chat": {"domain": domain, "temperature": 0.5, "max_tokens": 2048, **chat}},
            "payload": {
                "message": {
                    "text": [{"role": "system", "content": "s"}, {"role": "user", "content": content}]
                }
            },
        }
    )


async def exchange(url: str, frame: str) -> tuple[list[dict], object]:
    """Send one request frame; collect frames until the server closes. Returns (frames, close exception)."""
    frames: list[dict] = []
    async with connect(url) as ws:
        await ws.send(frame)
        try:
            while True:
                frames.append(json.loads(await ws.recv()))
        except (ConnectionClosedOK, ConnectionClosedError) as closed:
            return frames, closed


def url(emu, path: str = "/v3.5/chat", secret: str = SECRET, date: str | None = None) -> str:
    return spark_sign_url(f"{emu.ws_url}{path}", KEY, secret, date)


async def test_full_multi_frame_answer(make_emulator):
    emu = make_emulator(credentials=CREDENTIALS, responder=lambda req: LONG)
    frames, closed = await exchange(url(emu), request_frame())
    assert isinstance(closed, ConnectionClosedOK)  # the server closes after status 2
    assert len(frames) > 3
    statuses = [f["header"]["status"] for f in frames]
    assert statuses[0] == 0 and statuses[-1] == 2 and set(statuses[1:-1]) == {1}
    assert [f["payload"]["choices"]["seq"] for f in frames] == list(range(len(frames)))
    assert all(f["header"]["code"] == 0 and f["header"]["sid"] == frames[0]["header"]["sid"] for f in frames)
    assert "".join(f["payload"]["choices"]["text"][0]["content"] for f in frames) == LONG
    assert ["usage" in f["payload"] for f in frames] == [False] * (len(frames) - 1) + [True]
    usage = frames[-1]["payload"]["usage"]["text"]
    assert usage["completion_tokens"] == len(LONG) // 4 and usage["question_tokens"] == 3
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    (record,) = emu.requests
    assert (record["protocol"], record["model"], record["status"], record["stream"]) == (
        "spark",
        "generalv3.5",
        200,
        True,
    )
    assert "authorization" not in json.dumps(record) and record["path"] == "/v3.5/chat"


async def test_short_answer_still_has_first_and_last_frames(emulator):
    frames, _ = await exchange(url(emulator, "/chat/max-32k"), request_frame("max-32k"))
    assert [f["header"]["status"] for f in frames] == [0, 2]
    assert "".join(f["payload"]["choices"]["text"][0]["content"] for f in frames) == "echo: say hello"


@pytest.mark.parametrize(
    ("secret", "date_offset", "status", "message"),
    [
        ("wrong-secret", 0, 401, "HMAC signature does not match"),
        (SECRET, -400, 403, "a valid date or x-date header is required"),
        (SECRET, 400, 403, "a valid date or x-date header is required"),
    ],
)
async def test_handshake_failures_are_plain_http(make_emulator, secret, date_offset, status, message):
    emu = make_emulator(credentials=CREDENTIALS)
    signed = url(emu, secret=secret, date=spark_rfc1123(time.time() + date_offset))
    with pytest.raises(InvalidStatus) as info:
        async with connect(signed):
            pass
    response = info.value.response
    assert response.status_code == status and message in json.loads(response.body)["message"]
    assert_no_canary(response.body, "the handshake's refusal")
    assert emu.requests[0]["status"] == status


async def test_unsigned_url_is_unauthorized(emulator):
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{emulator.ws_url}/v3.5/chat"):
            pass
    assert info.value.response.status_code == 401
    assert json.loads(info.value.response.body) == {"message": "Unauthorized"}


async def test_domain_must_match_the_path(emulator):
    frames, _ = await exchange(url(emulator, "/v3.5/chat"), request_frame("4.0Ultra"))
    (frame,) = frames
    assert frame["header"]["code"] == 10005 and "generalv3.5" in frame["header"]["message"]
    assert "payload" not in frame
    lite, _ = await exchange(url(emulator, "/v1.1/chat"), request_frame("lite"))
    assert lite[-1]["header"]["status"] == 2 and lite[-1]["header"]["code"] == 0


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("429", 11202),
        ("quota", 11201),
        ("500", 10012),
        ("503", 10008),
        ("529", 10008),
        ("filter", 10013),
        ("context", 10907),
    ],
)
async def test_error_faults_are_error_frames(make_emulator, fault, code):
    emu = make_emulator(faults=f"{fault}@spark")
    frames, closed = await exchange(url(emu), request_frame())
    assert [f["header"]["code"] for f in frames] == [code] and isinstance(closed, ConnectionClosedOK)
    assert emu.requests[0]["status"] == code and emu.requests[0]["fault"] == fault


async def test_prompt_over_the_window_is_10907(emulator):
    frames, _ = await exchange(url(emulator), request_frame(content="x" * 40_000))
    assert frames[0]["header"]["code"] == 10907


async def test_auth_fault_fails_the_handshake(make_emulator):
    emu = make_emulator(faults="auth@spark")
    with pytest.raises(InvalidStatus) as info:
        async with connect(url(emu)):
            pass
    assert info.value.response.status_code == 401
    assert_no_canary(info.value.response.body, "the handshake's refusal")
    frames, _ = await exchange(url(emu), request_frame())
    assert frames[-1]["header"]["status"] == 2
    assert [r["fault"] for r in emu.requests] == ["auth", None]


async def test_truncate_and_wsclose_end_without_status_2(make_emulator):
    emu = make_emulator(faults="truncate,wsclose", responder=lambda req: LONG)
    frames, closed = await exchange(url(emu), request_frame())
    assert isinstance(closed, ConnectionClosedError) and closed.rcvd is None  # no close frame at all
    assert frames and all(f["header"]["status"] != 2 for f in frames)
    frames, closed = await exchange(url(emu), request_frame())
    assert isinstance(closed, ConnectionClosedOK)  # a clean close ...
    assert frames and all(f["header"]["status"] != 2 for f in frames)  # ... before the answer ended


async def test_midstream_error_frame_after_some_text(make_emulator):
    emu = make_emulator(faults="midstream", responder=lambda req: LONG)
    frames, _ = await exchange(url(emu), request_frame())
    assert frames[0]["header"]["code"] == 0 and frames[0]["payload"]["choices"]["text"][0]["content"]
    assert frames[-1]["header"]["code"] == 10012


async def test_malformed_request_frames(emulator):
    frames, _ = await exchange(url(emulator), "not json")
    assert frames[0]["header"]["code"] == 10003
    frames, _ = await exchange(url(emulator), json.dumps({"parameter": {}, "payload": {}}))
    assert frames[0]["header"]["code"] == 10004
