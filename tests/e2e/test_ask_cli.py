"""`polyteam ask` as a subprocess against an emulator: plain, --json, and a failing route."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyteam.emulator import EmulatorThread

OPENAI_KEY = "sk-e2e-secret-0123456789abcdef"


@pytest.fixture
def emu() -> Iterator[EmulatorThread]:
    emulator = EmulatorThread(port=0).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def config_dir(tmp_path: Path, emu: EmulatorThread) -> Path:
    (tmp_path / "config.yaml").write_text(
        f'OPENAI_API_KEY: "{OPENAI_KEY}"\nOPENAI_API_BASE: "{emu.base_url}/v1"\nOPENAI_API_MODEL: "gpt-4o-mini"\n'
    )
    (tmp_path / "multi_llm_config.yaml").write_text(
        "ProductManager: openai\n"
        "WriteCode: llama-local\n"
        "MODEL_LIST:\n"
        "  llama-local:\n"
        f'    open_llm_api_base: "{emu.base_url}/llama/v1"\n'
        '    model: "llama-3-8b-instruct"\n'
    )
    return tmp_path


def polyteam(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polyteam.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def test_plain_ask_prints_the_reply(config_dir: Path, emu: EmulatorThread) -> None:
    done = polyteam(
        "ask", "--role", "ProductManager", "--action", "WritePRD", "--config-dir", str(config_dir), "hi"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "echo: hi\n"
    assert emu.wait_for_requests(1)
    assert [(r["protocol"], r["model"]) for r in emu.requests] == [("openai", "gpt-4o-mini")]


@pytest.mark.parametrize(
    ("role", "action", "llm", "provider", "model", "path"),
    [
        ("ProductManager", "WritePRD", "openai", "openai", "gpt-4o-mini", "/v1"),
        ("Engineer", "WriteCode", "llama-local", "open_llm", "llama-3-8b-instruct", "/llama/v1"),
    ],
)
def test_json_ask_reports_where_the_reply_came_from(
    config_dir: Path,
    emu: EmulatorThread,
    role: str,
    action: str,
    llm: str,
    provider: str,
    model: str,
    path: str,
) -> None:
    done = polyteam(
        "ask", "--role", role, "--action", action, "--config-dir", str(config_dir), "--json", "ping"
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert set(doc) == {
        "text",
        "llm",
        "provider",
        "model",
        "base_url",
        "input_tokens",
        "output_tokens",
        "latency_s",
        "attempts",
    }
    assert emu.wait_for_requests(1)
    (logged,) = emu.requests
    assert doc["text"] == "echo: ping"
    assert (doc["llm"], doc["provider"], doc["model"], doc["base_url"]) == (
        llm,
        provider,
        model,
        emu.base_url + path,
    )
    assert (doc["input_tokens"], doc["output_tokens"]) == (
        logged["prompt_tokens"],
        logged["completion_tokens"],
    )
    assert logged["model"] == model and logged["path"] == path + "/chat/completions"
    assert doc["attempts"] == 1 and doc["latency_s"] > 0


def test_a_failing_route_is_one_stderr_line_without_the_key(config_dir: Path, emu: EmulatorThread) -> None:
    emu.set_faults("auth:*@gpt-4o-mini")
    done = polyteam(
        "ask", "--role", "ProductManager", "--action", "WritePRD", "--config-dir", str(config_dir), "hi"
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    (line,) = lines
    assert "openai" in line and f"{emu.base_url}/v1" in line and "AuthError" in line
    assert OPENAI_KEY not in done.stderr
    assert emu.wait_for_requests(1) and len(emu.requests) == 1  # auth is never retried
