"""Wire parameters per model family and current default models, against the strict emulator.

gpt-5 and the o-series take max_completion_tokens and no temperature; open servers take max_tokens;
`token_param:` overrides; the claude default is not a retired id; `check --ping` names a 404 model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from _recorder import Recorder

import canary
from polyteam.commands.check import ping_route
from polyteam.config import load_settings
from polyteam.config.local import LocalSupport
from polyteam.errors import BadRequestError
from polyteam.gateway import Gateway
from polyteam.providers.anthropic_spec import CLAUDE
from polyteam.providers.base import CallOptions, Message

NO_LOCAL = lambda: LocalSupport(bundled_gguf=None, has_xllamacpp=False)  # noqa: E731
HELLO = [Message("user", "hello")]


def settings_for(tmp_path: Path, config: str, multi: str = "") -> Any:
    (tmp_path / "config.yaml").write_text(config)
    if multi:
        (tmp_path / "multi_llm_config.yaml").write_text(multi)
    return load_settings(tmp_path, {}, probe=NO_LOCAL)


async def ask(settings: Any, options: CallOptions | None = None) -> Any:
    gateway = Gateway(settings.router, max_attempts=1)
    try:
        return await gateway.ask("ProductManager", "WritePRD", HELLO, options or CallOptions(temperature=0.2))
    finally:
        await gateway.aclose()


@pytest.mark.parametrize("model", ["gpt-5-mini", "o4-mini", "gpt-5.4"])
async def test_reasoning_models_answer_on_the_strict_emulator(
    make_emulator: Any, tmp_path: Path, model: str
) -> None:
    emu = make_emulator()
    config = (
        f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\nOPENAI_API_BASE: "{emu.base_url}/v1"\n'
        f"OPENAI_API_MODEL: {model}\n"
    )
    answer = await ask(settings_for(tmp_path, config))
    assert answer.completion.text == "echo: hello"
    assert emu.requests[-1]["status"] == 200 and emu.requests[-1]["model"] == model


async def test_the_strict_emulator_refuses_max_tokens_and_temperature_like_openai(make_emulator: Any) -> None:
    emu = make_emulator()
    headers = {"Authorization": f"Bearer {canary.OPENAI_API_KEY}"}
    body = {"model": "gpt-5-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    async with httpx.AsyncClient(base_url=emu.base_url, headers=headers) as client:
        refused = await client.post("/v1/chat/completions", json=body)
        hot = await client.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-5-mini",
                "messages": body["messages"],
                "max_completion_tokens": 5,
                "temperature": 0.2,
            },
        )
        unknown = await client.post("/v1/chat/completions", json={**body, "model": "gpt-9-ultra"})
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "unsupported_parameter",
    }
    assert (refused.status_code, hot.status_code, unknown.status_code) == (400, 400, 404)
    assert hot.json()["error"]["code"] == "unsupported_value"
    assert unknown.json()["error"]["code"] == "model_not_found"


async def test_lenient_emulator_keeps_the_old_permissive_behaviour(make_emulator: Any) -> None:
    emu = make_emulator(strict=False)
    headers = {"Authorization": f"Bearer {canary.OPENAI_API_KEY}"}
    body = {"model": "gpt-5-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    async with httpx.AsyncClient(base_url=emu.base_url, headers=headers) as client:
        reply = await client.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200


async def test_wire_fields_per_kind_and_the_token_param_override(tmp_path: Path) -> None:
    with Recorder() as openai_host, Recorder() as open_host:
        config = (
            f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\nOPENAI_API_BASE: "{openai_host.url}/v1"\n'
            "OPENAI_API_MODEL: gpt-4.1-mini\n"
        )
        multi = (
            "WritePRD: old\nWriteDesign: plain\nWriteTasks: r1\nMODEL_LIST:\n"
            f"  old:\n    open_llm_api_base: {open_host.url}/v1\n    token_param: max_completion_tokens\n"
            f"  plain:\n    open_llm_api_base: {open_host.url}/v1\n"
            f"  r1:\n    open_llm_api_base: {open_host.url}/v1\n    model: openai/o3-mini\n"
        )
        settings = settings_for(tmp_path, config, multi)
        gateway = Gateway(settings.router, max_attempts=1)
        options = CallOptions(max_tokens=7, temperature=0.2)
        try:
            await gateway.ask("ProductManager", "WritePRD", HELLO, options)
            await gateway.ask("Architect", "WriteDesign", HELLO, options)
            await gateway.ask("ProjectManager", "WriteTasks", HELLO, options)
            await gateway.ask("Engineer", "WriteCode", HELLO, options)  # the default: openai
        finally:
            await gateway.aclose()
    old, plain, r1 = (seen.json for seen in open_host.seen)
    assert old["max_completion_tokens"] == 7 and "max_tokens" not in old
    assert plain["max_tokens"] == 7 and "max_completion_tokens" not in plain and plain["temperature"] == 0.2
    # a reasoning family wherever it is served: max_completion_tokens, no temperature
    assert r1["max_completion_tokens"] == 7 and "max_tokens" not in r1 and "temperature" not in r1
    default = openai_host.seen[0].json
    assert default["max_completion_tokens"] == 7 and "max_tokens" not in default


async def test_claude_with_no_model_set_answers_on_the_strict_emulator(
    make_emulator: Any, tmp_path: Path
) -> None:
    emu = make_emulator()
    config = f'Anthropic_API_KEY: "{canary.ANTHROPIC_API_KEY}"\nANTHROPIC_API_BASE: "{emu.base_url}"\n'
    answer = await ask(settings_for(tmp_path, config))
    assert answer.completion.text == "echo: hello"
    assert emu.requests[-1]["model"] == CLAUDE.default_model and CLAUDE.default_model_date


async def test_a_retired_claude_model_is_a_404_and_ping_names_it(make_emulator: Any, tmp_path: Path) -> None:
    emu = make_emulator()
    config = (
        f'Anthropic_API_KEY: "{canary.ANTHROPIC_API_KEY}"\nANTHROPIC_API_BASE: "{emu.base_url}"\n'
        "ANTHROPIC_API_MODEL: claude-3-5-sonnet-20241022\n"
    )
    settings = settings_for(tmp_path, config)
    with pytest.raises(BadRequestError) as info:
        await ask(settings)
    assert info.value.status == 404
    result = await ping_route(settings.router.route("ProductManager", "WritePRD"))
    assert not result.ok
    assert "retired or unknown model claude-3-5-sonnet-20241022; set ANTHROPIC_API_MODEL" in result.detail
