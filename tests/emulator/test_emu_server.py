"""The emulator as a whole: log file, concurrency counts, tag-matched faults, shutdown with held requests."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import openai
import pytest
from _emu_log import LOG_FIELDS
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from canary import (
    OPENAI_API_KEY,
    SPARK_API_KEY,
    SPARK_API_SECRET,
    SPARK_APPID,
    ZHIPUAI_API_KEY,
    ZHIPUAI_SECRET,
    assert_no_canary,
)
from polyteam.emulator import ChatRequest, Emulator, EmulatorThread, Reply
from polyteam.emulator.signing import spark_sign_url

MESSAGES = [{"role": "user", "content": "say hello"}]
SPARK_FRAME = json.dumps(
    {
        "header": {"app_id": SPARK_APPID},
        "parameter": {"chat": {"domain": "generalv3.5"}},
        "payload": {"message": {"text": [{"role": "user", "content": "hi"}]}},
    }
)


async def openai_call(emu, model: str = "m", content: str = "say hello", key: str = OPENAI_API_KEY) -> str:
    async with openai.AsyncOpenAI(base_url=f"{emu.base_url}/v1", api_key=key, max_retries=0) as c:
        result = await c.chat.completions.create(model=model, messages=[{"role": "user", "content": content}])
    return result.choices[0].message.content


async def test_log_file_has_one_json_line_per_request_and_no_secret(make_emulator, tmp_path):
    log = tmp_path / "emu.jsonl"
    secret, key = SPARK_API_SECRET, SPARK_API_KEY
    emu = make_emulator(log_path=log, credentials={"spark": {key: secret}})
    await openai_call(emu)
    async with connect(spark_sign_url(f"{emu.ws_url}/v3.5/chat", key, secret)) as ws:
        await ws.send(SPARK_FRAME)
        async for _ in ws:
            pass
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emu.base_url}/api/paas/v4/chat/completions",
            headers={"Authorization": ZHIPUAI_API_KEY},
            json={"model": "glm-4", "messages": MESSAGES},
        ) as resp,
    ):
        assert resp.status == 200
    assert emu.wait_for_requests(3)
    emu.stop()
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["protocol"] for line in lines] == ["openai", "spark", "zhipu"]
    assert lines == emu.requests
    for line in lines:
        assert set(line) == set(LOG_FIELDS)
        assert line["ts_end"] >= line["ts_start"] and line["status"] == 200 and line["completion_tokens"] > 0
    for needle in (OPENAI_API_KEY, secret, key, "authorization", ZHIPUAI_SECRET):
        assert needle not in text
    assert_no_canary(text, "the emulator log")


async def test_concurrency_is_measurable_per_model(make_emulator):
    emu = make_emulator(latency_ms=200)
    await asyncio.gather(*(openai_call(emu, "a") for _ in range(3)), openai_call(emu, "b"))
    assert emu.max_in_flight("a") == 3 and emu.max_in_flight("b") == 1 and emu.max_in_flight() == 4
    assert emu.log.max_in_flight_seen == 4 and emu.in_flight == 0
    await openai_call(emu, "a")
    await openai_call(emu, "a")
    assert emu.max_in_flight("a") == 3  # sequential calls add no overlap


async def test_faults_can_match_the_responders_tag(make_emulator):
    def responder(req: ChatRequest) -> Reply:
        if "code" in req.last_user:
            return Reply("print('hi')", tag="WriteCode:main.py")
        return Reply("a PRD", tag="WritePRD")

    emu = make_emulator(responder=responder, faults="500:*@WriteCode")
    assert await openai_call(emu, content="write the prd") == "a PRD"
    with pytest.raises(openai.InternalServerError):
        await openai_call(emu, content="write code")
    emu.set_faults("429@WritePRD")
    with pytest.raises(openai.RateLimitError):
        await openai_call(emu, content="write the prd")
    assert await openai_call(emu, content="write code") == "print('hi')"
    assert [(r["tag"], r["fault"]) for r in emu.requests] == [
        ("WritePRD", None),
        ("WriteCode:main.py", "500"),
        ("WritePRD", "429"),
        ("WriteCode:main.py", None),
    ]


async def test_stop_releases_held_requests_quickly():
    emu = Emulator(port=0, faults="timeout:*")
    await emu.start()
    async with aiohttp.ClientSession() as session:
        call = asyncio.ensure_future(
            session.post(
                f"{emu.base_url}/v1/chat/completions",
                json={"model": "m", "messages": MESSAGES},
                headers={"Authorization": f"Bearer {OPENAI_API_KEY}"},
            )
        )
        assert await asyncio.to_thread(emu.log.wait_for, 1, 5.0, in_flight=True)
        await asyncio.wait_for(emu.stop(), 1.5)
        with pytest.raises(aiohttp.ClientError):
            await asyncio.wait_for(call, 5)
    (record,) = emu.requests
    assert record["fault"] == "timeout" and record["status"] is None


async def test_stop_closes_a_held_spark_socket(make_emulator):
    emu = make_emulator(faults="timeout@spark")
    async with connect(spark_sign_url(f"{emu.ws_url}/v3.5/chat", SPARK_API_KEY, SPARK_API_SECRET)) as ws:
        await ws.send(SPARK_FRAME)
        assert await asyncio.to_thread(emu.wait_for_requests, 1, 5.0, in_flight=True)
        await asyncio.wait_for(asyncio.to_thread(emu.stop), 3)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    assert emu.requests[0]["fault"] == "timeout"


def test_thread_reports_a_busy_port(emulator):
    with pytest.raises(OSError):
        EmulatorThread(port=emulator.port).start()


async def test_unknown_paths_are_404_with_a_hint(emulator):
    url = f"{emulator.base_url}/v2/whatever"
    async with aiohttp.ClientSession() as session, session.post(url, json={}) as resp:
        body = await resp.json()
    assert resp.status == 404 and "docs/emulator.md" in body["error"]["message"]
    assert emulator.requests == []


async def test_a_failing_responder_becomes_the_protocols_internal_error(make_emulator, caplog):
    def responder(req: ChatRequest) -> Reply:
        raise RuntimeError("responder bug")

    emu = make_emulator(responder=responder)
    with pytest.raises(openai.InternalServerError):
        await openai_call(emu)
    async with connect(spark_sign_url(f"{emu.ws_url}/v3.5/chat", SPARK_API_KEY, SPARK_API_SECRET)) as ws:
        await ws.send(SPARK_FRAME)
        frame = json.loads(await ws.recv())
    assert frame["header"]["code"] == 10012
    assert [r["status"] for r in emu.requests] == [500, 10012]
    assert "responder bug" in caplog.text
