"""`polyteam emulate` as a subprocess: the ready line, serving, a clean exit on SIGTERM, option errors."""

from __future__ import annotations

import asyncio
import json
import re
import sys

import openai

from canary import OPENAI_API_KEY, assert_no_canary

READY = re.compile(r"^polyteam emulate: listening on (http://127\.0\.0\.1:(\d+))$")


async def emulate(*options: str) -> asyncio.subprocess.Process:
    """`polyteam emulate --port 0 OPTIONS` with stdout and stderr piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "polyteam.cli", "emulate", "--port", "0", *options,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_emulate_prints_the_ready_line_serves_and_stops_on_sigterm(tmp_path):
    log = tmp_path / "requests.jsonl"
    proc = await emulate("--log", str(log), "--faults", "429@anthropic")
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().rstrip("\n")
        match = READY.match(line)
        assert match, line
        base_url = match.group(1)
        async with openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=OPENAI_API_KEY, max_retries=0) as c:
            result = await c.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "ping"}]
            )
        assert result.choices[0].message.content == "echo: ping"
    finally:
        proc.terminate()
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, stderr.decode()
    assert stdout == b""  # exactly one line on stdout
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert record["protocol"] == "openai" and record["status"] == 200
    assert OPENAI_API_KEY not in log.read_text() + stderr.decode()
    assert_no_canary(line.encode() + stdout + stderr, "`polyteam emulate` output")


async def test_emulate_rejects_a_bad_fault_spec_with_one_line():
    proc = await emulate("--faults", "418")
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    lines = stderr.decode().strip().splitlines()
    assert proc.returncode == 2 and stdout == b""
    assert len(lines) == 1 and "--faults" in lines[0] and "unknown kind '418'" in lines[0]
