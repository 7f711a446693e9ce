"""Endpoints pointing each provider kind at an emulator on 127.0.0.1 (imported by the provider tests)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

import canary
from polyteam.providers.base import Endpoint

# the canary secrets (tests/canary.py): a leak anywhere fails the suite, not just the test that looks
OPENAI_KEY = canary.OPENAI_API_KEY
CLAUDE_KEY = canary.ANTHROPIC_API_KEY
ZHIPU_ID, ZHIPU_SECRET = canary.ZHIPUAI_ID, canary.ZHIPUAI_SECRET
SPARK_KEY, SPARK_SECRET, SPARK_APP = canary.SPARK_API_KEY, canary.SPARK_API_SECRET, canary.SPARK_APPID
OPEN_LLM_KEY = canary.OPEN_LLM_API_KEY
KEYS = (OPENAI_KEY, CLAUDE_KEY, ZHIPU_SECRET, SPARK_KEY, SPARK_SECRET, OPEN_LLM_KEY)

KINDS = ("openai", "claude", "zhipu", "spark")


def endpoint_for(kind: str, emu: Any, **overrides: Any) -> Endpoint:
    """An Endpoint of `kind` at the emulator `emu` (an Emulator or EmulatorThread)."""
    fields: dict[str, Any]
    if kind == "openai":
        fields = {
            "llm": "openai",
            "base_url": f"{emu.base_url}/v1",
            "model": "gpt-4o-mini",
            "api_key": OPENAI_KEY,
        }
    elif kind == "open_llm":
        fields = {
            "llm": "llama",
            "base_url": f"{emu.base_url}/llama/v1",
            "model": "llama-3-8b",
            "api_key": OPEN_LLM_KEY,
        }
    elif kind == "claude":
        fields = {
            "llm": "claude",
            "base_url": emu.base_url,
            "model": "claude-3-5-sonnet",
            "api_key": CLAUDE_KEY,
        }
    elif kind == "zhipu":
        fields = {
            "llm": "zhipu",
            "base_url": f"{emu.base_url}/api/paas/v4",
            "model": "glm-4",
            "api_key": f"{ZHIPU_ID}.{ZHIPU_SECRET}",
        }
    elif kind == "spark":
        fields = {
            "llm": "spark",
            "base_url": f"{emu.ws_url}/v3.5/chat",
            "model": "generalv3.5",
            "domain": "generalv3.5",
            "api_key": SPARK_KEY,
            "api_secret": SPARK_SECRET,
            "app_id": SPARK_APP,
        }
    else:
        raise ValueError(kind)
    fields.update(overrides)
    for secret in ("api_key", "api_secret"):
        if isinstance(fields.get(secret), str):
            fields[secret] = SecretStr(fields[secret])
    return Endpoint(kind=kind, **fields)


def verifying_credentials() -> dict[str, dict[str, str]]:
    """Emulator credentials that make it check Spark signatures and Zhipu JWTs."""
    return {"spark": {SPARK_KEY: SPARK_SECRET}, "zhipu": {ZHIPU_ID: ZHIPU_SECRET}}
