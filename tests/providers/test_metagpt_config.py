"""A MetaGPT 0.8 config2.yaml, with no other file, routes and answers against the strict emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import canary
from polyteam.config import load_settings
from polyteam.config.local import LocalSupport
from polyteam.gateway import Gateway
from polyteam.providers.base import CallOptions, Message

NO_LOCAL = lambda: LocalSupport(bundled_gguf=None, has_xllamacpp=False)  # noqa: E731


async def test_config2_alone_routes_and_answers(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator()
    # MetaGPT's own config2.example.yaml format: llm:, roles: [{role, llm}], other sections ignored
    (tmp_path / "config2.yaml").write_text(
        f"""\
llm:
  api_type: "openai"  # or azure / ollama / groq etc.
  base_url: "{emu.base_url}/v1"
  api_key: "{canary.OPENAI_API_KEY}"
  model: "gpt-5-mini"
  proxy: "YOUR_PROXY"  # for LLM API requests
  pricing_plan: ""
roles:
  - role: "ProductManager"
    llm:
      api_type: "anthropic"
      base_url: "{emu.base_url}"
      api_key: "{canary.ANTHROPIC_API_KEY}"
      model: "claude-sonnet-5"
  - role: "Engineer"
    llm:
      api_type: "zhipuai"
      base_url: "{emu.base_url}/api/paas/v4"
      api_key: "{canary.ZHIPUAI_API_KEY}"
      model: "glm-4-plus"
repair_llm_output: true
"""
    )
    settings = load_settings(tmp_path, {}, probe=NO_LOCAL, on_warning=None)
    gateway = Gateway(settings.router, max_attempts=1)
    hello = [Message("user", "hello")]
    try:
        for role, action in (
            ("ProductManager", "WritePRD"),
            ("Architect", "WriteDesign"),
            ("Engineer", "WriteCode"),
        ):
            answer = await gateway.ask(role, action, hello, CallOptions(max_tokens=16, temperature=0.3))
            assert answer.completion.text == "echo: hello"
    finally:
        await gateway.aclose()
    assert [(r["protocol"], r["model"], r["status"]) for r in emu.requests] == [
        ("anthropic", "claude-sonnet-5", 200),
        ("openai", "gpt-5-mini", 200),
        ("zhipu", "glm-4-plus", 200),
    ]
