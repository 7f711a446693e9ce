"""Every config.yaml key known or reported; MetaGPT's keys and files; config locations and .env."""

from __future__ import annotations

from pathlib import Path

import pytest

import canary
from polyteam.commands import config_import
from polyteam.config import load_settings
from polyteam.config.local import LocalSupport
from polyteam.errors import ConfigError

NO_LOCAL = lambda: LocalSupport(bundled_gguf=None, has_xllamacpp=False)  # noqa: E731
OPENAI = f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\n'


def issues(folder: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(folder, env or {}, probe=NO_LOCAL)
    return [str(i) for i in info.value.issues]


def test_unknown_config_keys_are_one_line_each_with_the_closest_key(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        OPENAI + "MAX_BUDGT: 0.5\nOPENAI_API_MODLE: gpt-5-mini\nOPENAI_API_KYE: x\n"
    )
    lines = issues(tmp_path)
    label = tmp_path / "config.yaml"
    assert lines == [
        f"{label}: MAX_BUDGT: unknown key; did you mean MAX_BUDGET?",
        f"{label}: OPENAI_API_MODLE: unknown key; did you mean OPENAI_API_MODEL?",
        f"{label}: OPENAI_API_KYE: unknown key; did you mean OPENAI_API_KEY?",
    ]


def test_metagpt_06_flat_keys_are_read_or_one_warning_each(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        OPENAI + 'OPENAI_BASE_URL: "http://127.0.0.1:9/v1"\nTIMEOUT: 42\nRPM: 10\nMAX_TOKENS: 1500\n'
        "SEARCH_ENGINE: serpapi\nOPENAI_API_MODEL: gpt-5-mini\n"
    )
    warnings: list[str] = []
    settings = load_settings(tmp_path, {}, probe=NO_LOCAL, on_warning=warnings.append)
    default = settings.router.default
    assert (default.base_url, default.timeout, default.model) == ("http://127.0.0.1:9/v1", 42.0, "gpt-5-mini")
    assert [w.split(": ")[1] for w in warnings] == ["RPM", "MAX_TOKENS", "SEARCH_ENGINE"]
    assert all("is a MetaGPT setting polyteam does not use" in w for w in warnings)


CONFIG2 = f"""\
llm:
  api_type: "openai"
  base_url: "http://127.0.0.1:9/v1"
  api_key: "{canary.OPENAI_API_KEY}"
  model: "gpt-5-mini"
  proxy: "YOUR_PROXY"
  pricing_plan: ""
  max_token: 2048
roles:
  - role: "ProductManager"
    llm:
      api_type: "anthropic"
      base_url: "http://127.0.0.1:9"
      api_key: "{canary.ANTHROPIC_API_KEY}"
      model: "claude-sonnet-5"
  - role: "Engineer"
    llm:
      api_type: "azure"
      base_url: "http://127.0.0.1:9/openai/v1"
      api_key: "{canary.OPEN_LLM_API_KEY}"
      api_version: "2024-10-21"
      model: "gpt-4.1-mini"
models:
  deepseek-chat:
    api_type: deepseek
    api_key: "${{DS_KEY}}"
repair_llm_output: true
"""


def test_a_metagpt_config2_routes_with_no_other_file(tmp_path: Path) -> None:
    (tmp_path / "config2.yaml").write_text(CONFIG2)
    warnings: list[str] = []
    env = {"DS_KEY": canary.OPEN_LLM_API_KEY}
    router = load_settings(tmp_path, env, probe=NO_LOCAL, on_warning=warnings.append).router
    assert (router.default.llm, router.default.kind, router.default.model) == (
        "gpt-5-mini",
        "openai",
        "gpt-5-mini",
    )
    prd = router.route("ProductManager", "WritePRD")
    assert (prd.llm, prd.endpoint.kind, prd.source) == ("ProductManager-llm", "claude", "role")
    code = router.route("Engineer", "WriteCode").endpoint
    assert (code.kind, code.query) == ("openai", {"api-version": "2024-10-21"})
    deepseek = router.endpoint("deepseek-chat")
    assert deepseek.base_url == "https://api.deepseek.com/v1" and deepseek.hosted
    assert {w.split(": ")[1] for w in warnings} == {"llm.max_token", "repair_llm_output"}


def test_an_api_type_polyteam_cannot_serve_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "config2.yaml").write_text("llm:\n  api_type: qianfan\n  model: ernie\n")
    lines = issues(tmp_path)
    assert lines == [
        f"{tmp_path / 'config2.yaml'}: llm.api_type: polyteam cannot serve api_type qianfan; route this Role to "
        "another LLM (openai, azure, anthropic, zhipuai, spark, ollama, deepseek, …)"
    ]


def test_config2_sections_pasted_into_config_yaml_are_read(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(CONFIG2.replace("${DS_KEY}", "sk-x"))
    router = load_settings(tmp_path, {}, probe=NO_LOCAL, on_warning=None).router
    assert router.default.model == "gpt-5-mini"


def test_config_import_writes_files_that_route_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "metagpt"
    source.mkdir()
    (source / "config2.yaml").write_text(CONFIG2)
    env = {"DS_KEY": canary.OPEN_LLM_API_KEY}
    config_import.run(source, tmp_path / "polyteam")
    imported = load_settings(tmp_path / "polyteam", env, probe=NO_LOCAL, on_warning=None).router
    original = load_settings(source, env, probe=NO_LOCAL, on_warning=None).router
    assert imported.explain() == original.explain()
    assert "${DS_KEY}" in (tmp_path / "polyteam" / "multi_llm_config.yaml").read_text()
    with pytest.raises(ConfigError, match="exists already"):
        config_import.run(source, tmp_path / "polyteam")
    assert "wrote" in capsys.readouterr().out


def test_config_locations_env_xdg_and_metagpt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    (home / ".metagpt").mkdir(parents=True)
    (home / ".metagpt" / "config2.yaml").write_text(
        "llm:\n  api_type: openai\n  api_key: sk-m\n  model: gpt-4o\n"
    )
    notices: list[str] = []
    settings = load_settings(None, {"HOME": str(home)}, probe=NO_LOCAL, on_warning=notices.append)
    assert settings.router.default.model == "gpt-4o" and len(notices) == 1 and "MetaGPT" in notices[0]
    xdg = tmp_path / "xdg"
    (xdg / "polyteam").mkdir(parents=True)
    (xdg / "polyteam" / "config.yaml").write_text(OPENAI + "OPENAI_API_MODEL: gpt-4.1\n")
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(xdg)}
    assert load_settings(None, env, probe=NO_LOCAL).router.default.model == "gpt-4.1"
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    (chosen / "config.yaml").write_text(OPENAI + "OPENAI_API_MODEL: o3\n")
    env["POLYTEAM_CONFIG_DIR"] = str(chosen)
    assert load_settings(None, env, probe=NO_LOCAL).router.default.model == "o3"


def test_dotenv_in_the_config_folder_never_overrides_the_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f'# keys\nexport OPENAI_API_KEY="{canary.OPENAI_API_KEY}"\nOPENAI_API_MODEL=gpt-4.1-mini\n'
    )
    (tmp_path / "config.yaml").write_text("{}\n")
    settings = load_settings(tmp_path, {}, probe=NO_LOCAL)
    default = settings.router.default
    assert default.api_key is not None and default.api_key.get_secret_value() == canary.OPENAI_API_KEY
    assert default.model == "gpt-4.1-mini"
    assert load_settings(tmp_path, {"OPENAI_API_MODEL": "o3"}, probe=NO_LOCAL).router.default.model == "o3"


def test_a_huge_or_deeply_nested_config_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(OPENAI + "X: " + "[" * 5000 + "]" * 5000 + "\n")
    [line] = issues(tmp_path)
    assert "YAML does not parse" in line or "nested too deeply" in line
    (tmp_path / "config.yaml").write_bytes(b"# " + b"x" * (5 * 1024 * 1024))
    [line] = issues(tmp_path)
    assert "is too large to be a configuration file" in line


def test_an_unsupported_proxy_scheme_is_reported_before_any_call(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(OPENAI + 'OPENAI_PROXY: "ftp://127.0.0.1:3128"\n')
    (tmp_path / "multi_llm_config.yaml").write_text(
        "MODEL_LIST:\n  x:\n    base_url: http://127.0.0.1:1/v1\n    proxy: gopher://h:1\n"
    )
    lines = issues(tmp_path)
    assert len(lines) == 2
    proxy_fix = "(http or https); use http://HOST:PORT (socks5:// needs: pip install socksio)"
    assert any(
        line.endswith(f"OPENAI_PROXY: is not a proxy URL polyteam can use {proxy_fix}") for line in lines
    )
    assert any("MODEL_LIST.x.proxy: is not a proxy URL" in line for line in lines)
