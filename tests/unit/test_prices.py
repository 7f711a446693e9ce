"""polyteam.prices: which price applies to an endpoint and where it came from."""

from __future__ import annotations

from dataclasses import replace

import genai_prices
import pytest

from polyteam.prices import (
    BUILTIN_AS_OF,
    BUILTIN_PRICES,
    CNY_PER_USD,
    cost_usd,
    is_hosted,
    lookup_price,
    price_for,
)
from polyteam.providers.base import Endpoint, Price

GENAI = f"genai-prices {genai_prices.__version__}"


def ep(
    model: str,
    kind: str = "openai",
    llm: str | None = None,
    base: str = "http://127.0.0.1:9/v1",
    **kw: object,
) -> Endpoint:
    return Endpoint(llm=llm or kind, kind=kind, base_url=base, model=model, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("base", "hosted"),
    [
        ("http://127.0.0.1:8000/v1", False),
        ("http://localhost:11434/v1", False),
        ("http://[::1]:8080/v1", False),
        ("http://10.1.2.3/v1", False),
        ("http://192.168.0.7:8000/v1", False),
        ("http://172.16.0.1/v1", False),
        ("http://169.254.1.1/v1", False),
        ("http://gpu-box.local:8000/v1", False),
        ("https://api.deepseek.com/v1", True),
        ("https://8.8.8.8/v1", True),
        ("https://my-vllm.example.com/v1", True),
    ],
)
def test_hosted_is_read_from_the_base_url(base: str, hosted: bool) -> None:
    assert is_hosted(base) is hosted


@pytest.mark.parametrize(
    ("model", "base", "kind"),
    [
        ("deepseek-chat", "https://api.deepseek.com/v1", "open_llm"),
        ("deepseek-chat", "https://api.deepseek.com", "openai"),  # OPENAI_API_BASE pointed at DeepSeek
        ("gpt-5.1", "https://api.openai.com/v1", "openai"),
        ("gpt-5.4", "http://127.0.0.1:9/v1", "openai"),  # a forwarder or test server: priced by its kind
        ("claude-opus-4-6", "https://api.anthropic.com", "claude"),
        ("moonshot-v1-8k", "https://api.moonshot.cn/v1", "open_llm"),
        ("glm-4-plus", "https://open.bigmodel.cn/api/paas/v4", "zhipu"),
    ],
)
def test_hosted_models_are_priced_by_genai_prices(model: str, base: str, kind: str) -> None:
    quote = price_for(ep(model, kind=kind, llm="x", base=base))
    assert quote.source == GENAI and quote.price.input > 0 and quote.price.output > 0


def test_genai_prices_are_the_vendors_list_prices() -> None:
    assert price_for(ep("deepseek-chat", "open_llm", base="https://api.deepseek.com/v1")).price == Price(
        0.27, 1.1
    )
    assert price_for(ep("gpt-5.1")).price == Price(1.25, 10.0)
    # was 3 x too high by prefix match on claude-opus-4, and GLM-4-Plus 10 x too high
    assert price_for(ep("claude-opus-4-6", "claude")).price == Price(5.0, 25.0)
    plus = price_for(ep("glm-4-plus", "zhipu")).price
    assert plus.input == pytest.approx(5 / CNY_PER_USD, rel=0.05)


def test_tiered_prices_apply_per_call() -> None:
    quote = price_for(ep("gpt-5.4"))
    assert quote.price.input == 2.5  # the base rate is what `routes` shows
    small = quote.cost(100_000, 0)
    large = quote.cost(300_000, 0)  # above the 272k tier every token pays the tier rate
    assert small == pytest.approx(0.25) and large == pytest.approx(300_000 * 5 / 1e6)


@pytest.mark.parametrize(
    ("model", "kind", "base"),
    [
        ("gpt-5-mini", "openai", "http://127.0.0.1:9/v1"),
        ("gpt-5.1", "openai", "http://127.0.0.1:9/v1"),
        ("claude-opus-4-6", "claude", "http://127.0.0.1:9/v1"),
        ("deepseek-chat", "open_llm", "https://api.deepseek.com/v1"),
        ("gpt-5.4", "openai", "http://127.0.0.1:9/v1"),  # tiered: costed by genai-prices itself
        ("glm-4-plus", "zhipu", "http://127.0.0.1:9/v1"),
    ],
)
def test_every_quote_costs_what_genai_prices_does(model: str, kind: str, base: str) -> None:
    # a flat rate is costed by polyteam itself (issue 15): it must agree with genai-prices to the cent's
    # billionth, below, at and above any tier, for the token counts a call reserves and reports
    quote = price_for(ep(model, kind=kind, base=base))
    assert quote.source == GENAI
    provider = {"openai": "openai", "claude": "anthropic", "zhipu": "zhipuai", "open_llm": "deepseek"}[kind]
    for tokens_in, tokens_out in [(0, 0), (1, 1), (3_359, 512), (199_999, 8_192), (272_001, 1), (1_000_000, 64_000)]:
        usage = genai_prices.Usage(input_tokens=tokens_in, output_tokens=tokens_out)
        expected = float(genai_prices.calc_price(usage, model, provider_id=provider).total_price)
        assert quote.cost(tokens_in, tokens_out) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_unknown_hosted_model_is_unpriced_and_local_open_models_are_free() -> None:
    hosted = price_for(ep("qwen-max", "open_llm", base="https://dashscope.aliyuncs.com/compatible-mode/v1"))
    assert hosted.unpriced and hosted.price == Price(0, 0)
    assert price_for(ep("brand-new-model", kind="claude")).unpriced
    lan = price_for(ep("Llama-2-13b-chat-hf", "open_llm", base="http://192.168.1.5:8000/v1"))
    assert (lan.source, lan.unpriced, lan.price) == ("local", False, Price(0, 0))
    assert price_for(ep("smollm2", kind="local", base="")).source == "local"
    # the user's own price wins everywhere, and its source says so
    priced = price_for(ep("qwen-max", "open_llm", base="https://x.example/v1", price=Price(1.6, 6.4)))
    assert (priced.price, priced.source) == (Price(1.6, 6.4), "config")
    open_ep = ep("gpt-4o", kind="open_llm", llm="Llama-2-13b-chat-hf")
    assert price_for(open_ep, {"Llama-2-13b-chat-hf": Price(0.2, 0.2)}).price == Price(0.2, 0.2)


def test_override_order_entry_then_config_then_genai() -> None:
    config = {"gpt-4o": Price(1.0, 2.0)}
    assert price_for(ep("gpt-4o")).price == Price(2.5, 10.0)
    assert price_for(ep("gpt-4o"), config).price == Price(1.0, 2.0)
    assert price_for(ep("gpt-4o", price=Price(0.5, 0.7)), config).price == Price(0.5, 0.7)
    assert price_for(ep("whatever", llm="fast"), {"fast": {"input": 3, "output": 4}}).price == Price(3, 4)
    assert price_for(ep("gpt-4o-2024-08-06"), config).source == "config"


def test_cny_table_for_spark_and_zhipu_models_genai_prices_lacks() -> None:
    glm4 = price_for(ep("glm-4", kind="zhipu"))
    assert glm4.source == f"built-in {BUILTIN_AS_OF}"
    assert glm4.price.input == pytest.approx(100 / CNY_PER_USD, rel=1e-5)
    flash = price_for(ep("glm-4-flash", kind="zhipu"))
    assert flash.price == Price(0.0, 0.0) and not flash.unpriced  # free, not unknown
    ultra = Endpoint(
        llm="spark", kind="spark", base_url="ws://h/v4.0/chat", model="4.0Ultra", domain="4.0Ultra"
    )
    assert price_for(ultra).price.output == pytest.approx(70 / CNY_PER_USD, rel=1e-5)
    lite = price_for(replace(ultra, model="lite", domain="lite"))
    assert lite.price == Price(0.0, 0.0) and not lite.unpriced
    assert price_for(replace(ultra, model="spark", domain="generalv3.5")).price.input == pytest.approx(
        30 / CNY_PER_USD, rel=1e-5
    )
    assert lookup_price("glm-4-air-250414", BUILTIN_PRICES) == BUILTIN_PRICES["glm-4-air"]
    assert lookup_price("glm-4oops", BUILTIN_PRICES) is None  # a prefix needs a separator


def test_cost_math() -> None:
    assert cost_usd(Price(2.5, 10.0), 1_000_000, 500_000) == pytest.approx(7.5)
    assert price_for(ep("gpt-4o-mini")).cost(1000, 500) == pytest.approx(0.00045)
