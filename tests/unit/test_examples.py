"""Every shipped example resolves; the seed's fifth example routes as the tutorial says; its verbatim text fails helpfully."""

from __future__ import annotations

from pathlib import Path

import pytest

import canary
from canary import assert_no_canary
from polyteam.config import LocalSupport, load_settings
from polyteam.providers.zhipu_spec import ZHIPU as ZHIPU_SPEC

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NO_LOCAL = lambda: LocalSupport(bundled_gguf=None, has_xllamacpp=False)  # noqa: E731
FOLDERS = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())

# The tutorial's fifth example exactly as printed (two-space block indent, entries not under MODEL_LIST).
SEED_FIFTH_VERBATIM = """\
  ####Provide LLM
  ####Currently support openai,claude,spark,zhipu,class openai
  ###Customize the LLM used by the role
  ProductManager: openai
  Architect: claude
  ProjectManager: spark
  Engineer: zhipu

  ####Customizing the LLM used by Action
  WritePRD: deepseek-llm-67b-chat
  WriteDesign: Llama-2-13b-chat-hf
  WriteTasks: baichuan2-13b
  WriteCode: chatglm3-6b


  MODEL_LIST:
  deepseek-llm-67b-chat:
   open_llm_api_base: "http://0.0.0.0:12345/v1"
  Llama-2-13b-chat-hf:
   open_llm_api_base: "http://0.0.0.0:12346/v1"
  baichuan2-13b:
   open_llm_api_base: "http://0.0.0.0:12347/v1"
  chatglm3-6b:
   open_llm_api_base: "http://0.0.0.0:12348/v1"
"""


def test_there_are_the_three_examples() -> None:
    assert {p.name for p in FOLDERS} >= {
        "role-action-pair",
        "providers-and-open-models",
        "cheap-where-possible",
    }
    for folder in FOLDERS:
        assert (folder / "config.yaml").is_file() and (folder / "multi_llm_config.yaml").is_file()


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_every_example_resolves(folder: Path) -> None:
    router = load_settings(folder, {}, probe=NO_LOCAL).router
    assert router.routing_on
    routes = router.all_routes()
    assert routes and all(r.endpoint.base_url and r.endpoint.model for r in routes)
    assert any(r.source != "default" for r in routes)


def test_role_action_pair_example() -> None:
    router = load_settings(EXAMPLES / "role-action-pair", {}, probe=NO_LOCAL).router
    prd = router.route("ProductManager", "WritePRD")
    assert (prd.llm, prd.source, prd.endpoint.base_url) == (
        "Llama-2-13b-chat-hf",
        "action",
        "http://0.0.0.0:12346/v1",
    )
    assert router.route("Architect", "WriteDesign").llm == "openai"


def test_seed_fifth_example_routes() -> None:
    router = load_settings(EXAMPLES / "providers-and-open-models", {}, probe=NO_LOCAL).router
    got = {
        (r.action): (r.llm, r.endpoint.kind, r.endpoint.model, r.endpoint.base_url, r.source)
        for r in router.all_routes()
    }
    assert got["WritePRD"] == (
        "deepseek-llm-67b-chat",
        "open_llm",
        "deepseek-llm-67b-chat",
        "http://0.0.0.0:12345/v1",
        "action",
    )
    assert got["WriteDesign"] == (
        "Llama-2-13b-chat-hf",
        "open_llm",
        "Llama-2-13b-chat-hf",
        "http://0.0.0.0:12346/v1",
        "action",
    )
    assert got["WriteTasks"] == (
        "baichuan2-13b",
        "open_llm",
        "baichuan2-13b",
        "http://0.0.0.0:12347/v1",
        "action",
    )
    assert got["WriteCode"] == ("chatglm3-6b", "open_llm", "chatglm3-6b", "http://0.0.0.0:12348/v1", "action")
    assert got["WriteCodeReview"] == (
        "zhipu",
        "zhipu",
        ZHIPU_SPEC.default_model,
        "https://open.bigmodel.cn/api/paas/v4",
        "role",
    )
    # all four providers are configured: each resolves, spark from the seed's v2.1 URL and domain
    spark = router.endpoint("spark")
    assert (spark.base_url, spark.domain) == ("ws://spark-api.xf-yun.com/v2.1/chat", "generalv2")
    assert router.endpoint("claude").kind == "claude"


def test_seed_fifth_example_verbatim_routes_as_the_tutorial_says_with_one_warning(tmp_path: Path) -> None:
    (tmp_path / "multi_llm_config.yaml").write_text(SEED_FIFTH_VERBATIM)
    # the example's four providers, with the canary keys
    (tmp_path / "config.yaml").write_text(
        f'OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"\nAnthropic_API_KEY: "{canary.ANTHROPIC_API_KEY}"\n'
        f'SPARK_APPID : "{canary.SPARK_APPID}"\nSPARK_API_SECRET : "{canary.SPARK_API_SECRET}"\n'
        f'SPARK_API_KEY : "{canary.SPARK_API_KEY}"\nDOMAIN : "generalv2"\n'
        'SPARK_URL : "ws://spark-api.xf-yun.com/v2.1/chat"\n'
        f'ZHIPUAI_API_KEY: "{canary.ZHIPUAI_API_KEY}"\n'
    )
    warnings: list[str] = []
    router = load_settings(tmp_path, {}, probe=NO_LOCAL, on_warning=warnings.append).router
    assert_no_canary("\n".join(warnings), "the warnings")
    assert len(warnings) == 1 and "are not indented under MODEL_LIST:; read as its entries" in warnings[0]
    assert "indent each entry" in warnings[0]
    got = {r.action: (r.llm, r.endpoint.kind, r.endpoint.base_url, r.source) for r in router.all_routes()}
    assert got["WritePRD"] == ("deepseek-llm-67b-chat", "open_llm", "http://0.0.0.0:12345/v1", "action")
    assert got["WriteDesign"] == ("Llama-2-13b-chat-hf", "open_llm", "http://0.0.0.0:12346/v1", "action")
    assert got["WriteTasks"] == ("baichuan2-13b", "open_llm", "http://0.0.0.0:12347/v1", "action")
    assert got["WriteCode"] == ("chatglm3-6b", "open_llm", "http://0.0.0.0:12348/v1", "action")
    assert got["WriteCodeReview"][:2] == ("zhipu", "zhipu") and got["WriteCodeReview"][3] == "role"


def test_cheap_example_prices_and_fallbacks() -> None:
    settings = load_settings(EXAMPLES / "cheap-where-possible", {}, probe=NO_LOCAL)
    router = settings.router
    code = router.route("Engineer", "WriteCode")
    assert code.endpoint.price is not None and code.endpoint.price.input == 0
    assert router.chain(code.llm) == ["qwen2.5-coder-7b", "gpt-4o-mini", "glm-4-flash"]
    assert len(code.endpoint.bases) == 2
    assert settings.max_budget == 2.0
