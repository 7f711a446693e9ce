"""`polyteam ask` as a subprocess against an emulator: plain, --json, and a failing route."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _support import run_polyteam

from canary import OPEN_LLM_API_KEY, OPENAI_API_KEY


@pytest.fixture
def config_dir(tmp_path: Path, emulator: Any) -> Path:
    (tmp_path / "config.yaml").write_text(
        f'OPENAI_API_KEY: "{OPENAI_API_KEY}"\nOPENAI_API_BASE: "{emulator.base_url}/v1"\nOPENAI_API_MODEL: "gpt-4o-mini"\n'
    )
    (tmp_path / "multi_llm_config.yaml").write_text(
        "ProductManager: openai\n"
        "WriteCode: llama-local\n"
        "MODEL_LIST:\n"
        "  llama-local:\n"
        f'    open_llm_api_base: "{emulator.base_url}/llama/v1"\n'
        '    model: "llama-3-8b-instruct"\n'
        f'    api_key: "{OPEN_LLM_API_KEY}"\n'
    )
    return tmp_path


def polyteam(*args: str) -> subprocess.CompletedProcess[str]:
    return run_polyteam(*args, timeout=60)  # checks stdout and stderr for canary secrets


def test_plain_ask_prints_the_reply(config_dir: Path, emulator: Any) -> None:
    done = polyteam(
        "ask", "--role", "ProductManager", "--action", "WritePRD", "--config-dir", str(config_dir), "hi"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "echo: hi\n"
    assert emulator.wait_for_requests(1)
    assert [(r["protocol"], r["model"]) for r in emulator.requests] == [("openai", "gpt-4o-mini")]


@pytest.mark.parametrize(
    ("role", "action", "llm", "provider", "model", "path"),
    [
        ("ProductManager", "WritePRD", "openai", "openai", "gpt-4o-mini", "/v1"),
        ("Engineer", "WriteCode", "llama-local", "open_llm", "llama-3-8b-instruct", "/llama/v1"),
    ],
)
def test_json_ask_reports_where_the_reply_came_from(
    config_dir: Path,
    emulator: Any,
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
    assert emulator.wait_for_requests(1)
    (logged,) = emulator.requests
    assert doc["text"] == "echo: ping"
    assert (doc["llm"], doc["provider"], doc["model"], doc["base_url"]) == (
        llm,
        provider,
        model,
        emulator.base_url + path,
    )
    assert (doc["input_tokens"], doc["output_tokens"]) == (
        logged["prompt_tokens"],
        logged["completion_tokens"],
    )
    assert logged["model"] == model and logged["path"] == path + "/chat/completions"
    assert doc["attempts"] == 1 and doc["latency_s"] > 0


def test_a_failing_route_is_one_stderr_line_without_the_key(config_dir: Path, emulator: Any) -> None:
    emulator.set_faults("auth:*@gpt-4o-mini")
    done = polyteam(
        "ask", "--role", "ProductManager", "--action", "WritePRD", "--config-dir", str(config_dir), "hi"
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    (line,) = lines
    assert "openai" in line and f"{emulator.base_url}/v1" in line and "AuthError" in line
    assert OPENAI_API_KEY not in done.stderr
    assert emulator.wait_for_requests(1) and len(emulator.requests) == 1  # auth is never retried
