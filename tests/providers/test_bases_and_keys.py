"""Base URLs and keys as users write them, proved on the wire by recording servers of our own.

OPENAI_BASE_URL / ANTHROPIC_BASE_URL (file and environment), `${VAR}` / `os.environ/VAR`, per-entry
extra_body / headers / query, and a key sent only to the endpoint it was configured for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _recorder import Recorder

import canary
from polyteam.config import load_settings
from polyteam.config.local import LocalSupport
from polyteam.errors import BadRequestError, ConfigError
from polyteam.gateway import Gateway
from polyteam.providers.base import CallOptions, Message

NO_LOCAL = lambda: LocalSupport(bundled_gguf=None, has_xllamacpp=False)  # noqa: E731
HELLO = [Message("user", "hello")]


def load(tmp_path: Path, config: str, multi: str = "", env: dict[str, str] | None = None) -> Any:
    (tmp_path / "config.yaml").write_text(config)
    if multi:
        (tmp_path / "multi_llm_config.yaml").write_text(multi)
    return load_settings(tmp_path, env or {}, probe=NO_LOCAL)


async def ask_all(settings: Any, pairs: list[tuple[str, str]]) -> list[Any]:
    gateway = Gateway(settings.router, max_attempts=1)
    try:
        return [await gateway.ask(role, action, HELLO, CallOptions(max_tokens=5)) for role, action in pairs]
    finally:
        await gateway.aclose()


PRD = [("ProductManager", "WritePRD")]


@pytest.mark.parametrize("where", ["file", "environment"])
async def test_openai_base_url_reaches_the_configured_server(tmp_path: Path, where: str) -> None:
    with Recorder() as host:
        base = f"{host.url}/v1"
        config = f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\n'
        env = {"OPENAI_BASE_URL": base} if where == "environment" else {}
        if where == "file":
            config += f'OPENAI_BASE_URL: "{base}"\n'
        settings = load(tmp_path, config, env=env)
        assert settings.router.default.base_url == base  # routes shows it too
        await ask_all(settings, PRD)
    assert [s.path for s in host.seen] == ["/v1/chat/completions"]
    assert host.seen[0].bearer() == canary.OPENAI_API_KEY


@pytest.mark.parametrize("where", ["file", "environment"])
async def test_anthropic_base_url_reaches_the_configured_server(tmp_path: Path, where: str) -> None:
    with Recorder() as host:
        config = f'Anthropic_API_KEY: "{canary.ANTHROPIC_API_KEY}"\n'
        env = {"ANTHROPIC_BASE_URL": host.url} if where == "environment" else {}
        if where == "file":
            config += f'ANTHROPIC_BASE_URL: "{host.url}"\n'
        await ask_all(load(tmp_path, config, env=env), PRD)
    assert [s.path for s in host.seen] == ["/v1/messages"]
    assert host.seen[0].bearer() == canary.ANTHROPIC_API_KEY


def test_two_spellings_of_one_base_that_differ_are_one_error(tmp_path: Path) -> None:
    config = (
        f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\nOPENAI_API_BASE: "http://127.0.0.1:1/v1"\n'
        'OPENAI_BASE_URL: "http://127.0.0.1:2/v1"\n'
    )
    with pytest.raises(ConfigError) as info:
        load(tmp_path, config)
    lines = [str(i) for i in info.value.issues]
    assert len(lines) == 1 and "OPENAI_API_BASE and OPENAI_BASE_URL: are both set and differ" in lines[0]


async def test_env_references_arrive_as_their_values(tmp_path: Path) -> None:
    env = {"DEEPSEEK_API_KEY": canary.OPEN_LLM_API_KEY, "OTHER_KEY": canary.OPENAI_API_KEY}
    with Recorder() as host:
        multi = (
            "WritePRD: braced\nWriteDesign: litellm\nMODEL_LIST:\n"
            f"  braced:\n    base_url: {host.url}/v1\n    api_key: ${{DEEPSEEK_API_KEY}}\n"
            f"  litellm:\n    api_base: {host.url}/v1\n    api_key: os.environ/OTHER_KEY\n"
        )
        settings = load(tmp_path, f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\n', multi, env)
        await ask_all(settings, [*PRD, ("Architect", "WriteDesign")])
    assert [s.bearer() for s in host.seen] == [canary.OPEN_LLM_API_KEY, canary.OPENAI_API_KEY]


def test_a_missing_env_reference_is_one_line_naming_it(tmp_path: Path) -> None:
    multi = "MODEL_LIST:\n  ds:\n    base_url: http://127.0.0.1:1/v1\n    api_key: ${NOT_SET_ANYWHERE}\n"
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\n', multi)
    lines = [str(i) for i in info.value.issues]
    assert len(lines) == 1 and "MODEL_LIST.ds.api_key" in lines[0] and "NOT_SET_ANYWHERE" in lines[0]


async def test_extra_body_headers_and_query_arrive(tmp_path: Path) -> None:
    with Recorder() as host:
        multi = (
            "WritePRD: router\nMODEL_LIST:\n  router:\n"
            f"    base_url: {host.url}/v1\n    model: qwen/qwen3-coder\n"
            "    extra_body: {enable_thinking: false, thinking: {type: disabled}}\n"
            "    headers: {HTTP-Referer: https://example.org, X-Title: polyteam}\n"
            "    query: {api-version: 2024-10-21}\n"
        )
        await ask_all(load(tmp_path, f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\n', multi), PRD)
    seen = host.seen[0]
    assert seen.json["enable_thinking"] is False and seen.json["thinking"] == {"type": "disabled"}
    assert seen.headers["http-referer"] == "https://example.org" and seen.headers["x-title"] == "polyteam"
    assert seen.query == {"api-version": "2024-10-21"}


def test_extra_body_must_be_a_mapping(tmp_path: Path) -> None:
    multi = "MODEL_LIST:\n  q:\n    base_url: http://127.0.0.1:1/v1\n    extra_body: enable_thinking\n"
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\n', multi)
    assert any("MODEL_LIST.q.extra_body: is not a mapping" in str(i) for i in info.value.issues)


async def test_qwen3_answers_with_enable_thinking_false_and_not_without(
    make_emulator: Any, tmp_path: Path
) -> None:
    emu = make_emulator()
    multi = (
        "WritePRD: qwen\nWriteDesign: qwen-bare\nMODEL_LIST:\n"
        f"  qwen:\n    base_url: {emu.base_url}/compatible-mode/v1\n    model: qwen3-235b-a22b\n"
        "    extra_body: {enable_thinking: false}\n"
        f"  qwen-bare:\n    base_url: {emu.base_url}/compatible-mode/v1\n    model: qwen3-235b-a22b\n"
    )
    settings = load(tmp_path, f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\n', multi)
    [answer] = await ask_all(settings, PRD)
    assert answer.completion.text == "echo: hello"
    with pytest.raises(BadRequestError, match="enable_thinking must be set to false"):
        await ask_all(settings, [("Architect", "WriteDesign")])


async def test_open_llm_key_never_reaches_another_host(tmp_path: Path) -> None:
    with Recorder() as own, Recorder() as other:
        config = (
            f'OPEN_LLM_API_BASE: "{own.url}/v1"\nOPEN_LLM_API_MODEL: llama\n'
            f'OPEN_LLM_API_KEY: "{canary.OPEN_LLM_API_KEY}"\n'
        )
        multi = (
            "WritePRD: elsewhere\nWriteDesign: same-host\nMODEL_LIST:\n"
            f"  elsewhere:\n    open_llm_api_base: {other.url}/v1\n"
            f"  same-host:\n    open_llm_api_base: {own.url}/v1\n    model: llama\n"
        )
        await ask_all(load(tmp_path, config, multi), [*PRD, ("Architect", "WriteDesign")])
    assert canary.OPEN_LLM_API_KEY not in repr([(s.headers, s.body, s.query) for s in other.seen])
    assert [s.bearer() for s in own.seen] == [canary.OPEN_LLM_API_KEY]


def test_openai_key_is_not_lent_to_an_openai_entry_on_another_base(tmp_path: Path) -> None:
    multi = "WritePRD: fwd\nMODEL_LIST:\n  fwd:\n    api_type: openai\n    base_url: http://127.0.0.1:9/v1\n"
    with pytest.raises(ConfigError) as info:
        load(tmp_path, f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\n', multi)
    [line] = [str(i) for i in info.value.issues]
    assert (
        "MODEL_LIST.fwd: api_type openai needs a key" in line
        and "is for https://api.openai.com/v1 only" in line
    )
