"""Which price applies to an endpoint, where it came from, and what tokens cost at it (DESIGN §4).

Order, first match wins:
1. the user's own: the MODEL_LIST entry's `price:`, then config.yaml `PRICES:` (by wire model, LLM
   name, Spark domain) -> source `config`;
2. `local`: the bundled/served GGUF (`api_type: local`), and an OpenAI-compatible entry (`open_llm`)
   whose base is on loopback, a private network, link-local, `localhost` or `*.local` -> free;
3. `genai-prices <version>` (pydantic's maintained price data, imported on first use, its answers
   remembered per installed version by `polyteam.price_cache`): the provider is inferred from the
   base URL, else (a forwarder or a test server in front of a known vendor) from the endpoint's
   kind; tiered prices are applied per call;
4. `built-in <date>`: our CNY table for iFlytek Spark (genai-prices has none) and Zhipu models
   genai-prices does not list;
5. `unpriced`: a hosted model with no known price (costed 0; under a budget `polyteam.budget`
   makes it a configuration error before the first call).

The ledger, the budget and the meter are `polyteam.cost`'s.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from polyteam import price_cache
from polyteam.providers.base import Endpoint, Price

#: when the built-in (CNY) table was last checked against the vendors' list prices
BUILTIN_AS_OF = "2025-11"
PRICES_AS_OF: dict[str, str] = {
    "zhipu": f"{BUILTIN_AS_OF}, bigmodel.cn/pricing, CNY converted (models genai-prices lacks)",
    "spark": f"{BUILTIN_AS_OF}, xfyun.cn token packs, CNY converted, approximate",
    "others": "genai-prices (pydantic/genai-prices data bundled with the installed version)",
}
#: the conversion rate used for the CNY list prices below (CNY per 1 USD)
CNY_PER_USD = 7.2

# CNY per million input/output tokens, converted at CNY_PER_USD. A dated snapshot
# (glm-4-air-250414) is priced by the longest key it starts with followed by "-", ":", "@" or "_".
_CNY_PER_M: dict[str, tuple[float, float]] = {
    # Zhipu GLM (model names); genai-prices is asked first
    "glm-4": (100.0, 100.0),
    "glm-4-0520": (100.0, 100.0),
    "glm-4-plus": (5.0, 5.0),  # was 50 until the 2025 price cut
    "glm-4-air": (0.5, 0.5),
    "glm-4-airx": (10.0, 10.0),
    "glm-4-long": (1.0, 1.0),
    "glm-4-flashx": (0.10, 0.10),
    "glm-4-flash": (0.0, 0.0),  # free
    "glm-4v": (50.0, 50.0),
    "glm-3-turbo": (1.0, 1.0),
    # iFlytek Spark (by `domain`, which is also the wire model name); sold as prepaid token packs
    "lite": (0.0, 0.0),  # Spark Lite is free
    "general": (0.0, 0.0),  # v1.1's older domain name for Lite
    "generalv2": (15.0, 15.0),
    "generalv3": (15.0, 15.0),  # Spark Pro
    "pro-128k": (15.0, 15.0),
    "generalv3.5": (30.0, 30.0),  # Spark Max
    "max-32k": (32.0, 32.0),
    "4.0ultra": (70.0, 70.0),
}

#: model (lower case) -> USD per million tokens
BUILTIN_PRICES: dict[str, Price] = {
    name: Price(round(i / CNY_PER_USD, 6), round(o / CNY_PER_USD, 6)) for name, (i, o) in _CNY_PER_M.items()
}

#: genai-prices provider id for a kind whose base URL names no known provider (a forwarder, a test server)
_GENAI_PROVIDER_OF_KIND = {"openai": "openai", "claude": "anthropic", "zhipu": "zhipuai"}
#: kinds whose endpoint may be a free, self-hosted server
_SELF_HOSTABLE = frozenset({"open_llm"})
_SNAPSHOT_SEPARATORS = ("-", ":", "@", "_")
FREE = Price(0.0, 0.0)


@dataclass(frozen=True)
class PriceQuote:
    """The price that applies to one endpoint, where it came from, and how to cost tokens at it.

    `source`: `config`, `local`, `genai-prices <version>`, `built-in <date>` or `unpriced`.
    `price` is the base rate (USD per million tokens); `cost` applies genai-prices' tiers.
    """

    price: Price
    source: str
    genai: tuple[str, str] | None = field(default=None, compare=False)  # (model ref, provider id)

    @property
    def unpriced(self) -> bool:
        """A hosted model with no known price: costed 0 and flagged."""
        return self.source == "unpriced"

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """USD for these tokens (genai-prices' tiered rates where it priced the model)."""
        if self.genai is not None:
            return _genai_cost(self.genai, input_tokens, output_tokens)
        return cost_usd(self.price, input_tokens, output_tokens)

    def to_json(self) -> dict[str, Any]:
        return {"input": self.price.input, "output": self.price.output, "source": self.source}


def cost_usd(price: Price, input_tokens: int, output_tokens: int) -> float:
    """USD for these tokens at a flat `price` (USD per million tokens)."""
    return (input_tokens * price.input + output_tokens * price.output) / 1_000_000


def is_hosted(base_url: str) -> bool:
    """False for loopback, private and link-local addresses, `localhost` and `*.local`; True otherwise.

    TODO(#10): the providers helper's provider spec will say this; until then it is read from the URL.
    """
    try:
        host = (urlsplit(base_url).hostname or "").lower().rstrip(".")
    except ValueError:
        return True
    if not host:
        return False  # a local server polyteam starts itself fills its base in later
    if host == "localhost" or host.endswith(".localhost") or host.endswith(".local"):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return not (address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified)


def host_of(base_url: str) -> str:
    """The host of a base URL (for messages), or the URL itself."""
    try:
        return urlsplit(base_url).hostname or base_url
    except ValueError:
        return base_url


def lookup_price(model: str, table: Mapping[str, Price]) -> Price | None:
    """The price of `model` in `table`: the exact name, else the longest key it is a snapshot of.

    Matching ignores case and a leading vendor path (`openai/gpt-4o` is `gpt-4o`).
    """
    lowered = {k.lower(): v for k, v in table.items()}
    for name in dict.fromkeys([model.lower(), model.lower().rsplit("/", 1)[-1]]):
        if not name:
            continue
        if name in lowered:
            return lowered[name]
        best = ""
        for key in lowered:
            if len(key) > len(best) and any(name.startswith(key + sep) for sep in _SNAPSHOT_SEPARATORS):
                best = key
        if best:
            return lowered[best]
    return None


def _as_price(value: Any) -> Price:
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping):
        return Price(float(value.get("input", 0.0)), float(value.get("output", 0.0)))
    return Price(float(value.input), float(value.output))


def price_for(endpoint: Endpoint, config_prices: Mapping[str, Any] | None = None) -> PriceQuote:
    """The price of one endpoint, by the order in the module docstring."""
    if endpoint.price is not None:
        return PriceQuote(_as_price(endpoint.price), "config")
    names = [n for n in (endpoint.model, endpoint.llm, endpoint.domain) if n]
    if config_prices:
        table = {str(k): _as_price(v) for k, v in config_prices.items()}
        for name in names:
            found = lookup_price(name, table)
            if found is not None:
                return PriceQuote(found, "config")
    if endpoint.kind == "local" or (endpoint.kind in _SELF_HOSTABLE and not is_hosted(endpoint.base_url)):
        return PriceQuote(FREE, "local")
    genai = genai_quote(endpoint)
    if genai is not None:
        return genai
    for name in [n for n in (endpoint.model, endpoint.domain) if n]:
        found = lookup_price(name, BUILTIN_PRICES)
        if found is not None:
            return PriceQuote(found, f"built-in {BUILTIN_AS_OF}")
    return PriceQuote(FREE, "unpriced")


def genai_version() -> str:
    from polyteam.price_cache import installed_version

    found = installed_version()  # without importing genai-prices (price_cache.py)
    if found:
        return found
    from genai_prices import __version__

    return str(__version__)


def genai_quote(endpoint: Endpoint) -> PriceQuote | None:
    """genai-prices' price for the endpoint's model, the provider inferred from its base URL (else its
    kind); its answer is remembered per installed version (`polyteam.price_cache`)."""
    if endpoint.kind == "spark" or not endpoint.model:
        return None
    hosted = is_hosted(endpoint.base_url)
    key = "|".join((endpoint.kind, endpoint.base_url if hosted else "", endpoint.model))
    found = price_cache.lookup(key)
    if isinstance(found, price_cache.Unknown):
        found = _genai_lookup(endpoint, hosted)
        price_cache.remember(key, found)
    if found is None:
        return None
    # a flat rate is costed by polyteam (genai-prices' own calculation is ~60 us a call, two per
    # attempt: issue 15); tiers and per-request fees stay with genai-prices
    ref = None if found.flat else (endpoint.model, found.provider)
    return PriceQuote(Price(found.input, found.output), f"genai-prices {genai_version()}", genai=ref)


def _genai_lookup(endpoint: Endpoint, hosted: bool) -> price_cache.GenaiPrice | None:
    candidates: list[str] = []
    if hosted:
        provider = _provider_for_url(endpoint.base_url)
        if provider:
            candidates.append(provider)
    kind_provider = _GENAI_PROVIDER_OF_KIND.get(endpoint.kind)
    if kind_provider and (not candidates or endpoint.kind != "open_llm"):
        candidates.append(kind_provider)
    for provider in dict.fromkeys(candidates):
        found = _genai_rates(endpoint.model, provider)
        if found is not None:
            return found
    return None


@cache
def _provider_for_url(base_url: str) -> str | None:
    from genai_prices import data_snapshot

    try:
        return data_snapshot.get_snapshot().find_provider(None, None, base_url).id
    except LookupError:
        return None


@cache
def _genai_rates(model: str, provider: str) -> price_cache.GenaiPrice | None:
    """genai-prices' base rates for the model under `provider` (None: it does not know it), and
    whether they are all there is: one rate each for input and output, no tiers, no fee per
    request, so that `cost_usd` at them is its cost."""
    from decimal import Decimal

    import genai_prices

    try:
        calc = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=0, output_tokens=0), model, provider_id=provider
        )
    except LookupError:
        return None
    price = calc.model_price
    rates = (getattr(price, "input_mtok", None), getattr(price, "output_mtok", None))
    flat = all(isinstance(rate, Decimal) for rate in rates) and calc.total_price == 0
    return price_cache.GenaiPrice(_mtok(rates[0]), _mtok(rates[1]), provider, flat)


def _mtok(value: Any) -> float:
    if value is None:
        return 0.0
    base = getattr(value, "base", value)  # TieredPrices: the rate below the first tier
    return float(base)


def _genai_cost(ref: tuple[str, str], input_tokens: int, output_tokens: int) -> float:
    import genai_prices

    calc = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=input_tokens, output_tokens=output_tokens), ref[0], provider_id=ref[1]
    )
    total = float(calc.total_price)
    return total if math.isfinite(total) and total >= 0 else 0.0
