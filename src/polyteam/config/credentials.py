"""config.yaml and the environment: effective values, run settings, and the five built-in providers.

Each key may come from config.yaml or an environment variable of the same name (the environment
wins; an empty or placeholder value counts as unset). An unknown config.yaml key is an error naming
the closest known one; MetaGPT's keys that polyteam does not use are a warning each, since users keep
their whole MetaGPT config.yaml. No message here ever contains a value.
"""

from __future__ import annotations

import difflib
import importlib.util
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr, ValidationError

from polyteam.config.metagpt import CONFIG2_SECTIONS, FLAT_IGNORED
from polyteam.config.schema import (
    KEY_SPELLINGS,
    KNOWN_KEYS,
    MAX_REVIEW_K,
    NUMBER_KEYS,
    SECRET_KEYS,
    STRING_KEYS,
    PriceModel,
    display,
    is_unset,
)
from polyteam.errors import ConfigIssue
from polyteam.providers.base import Endpoint, Price
from polyteam.providers.kinds import BUILTIN, spec_for
from polyteam.providers.spark_spec import domains_for

ENV = "environment"
#: too generic a name to read from the environment (CI systems set TIMEOUT=30m)
FILE_ONLY_KEYS = frozenset({"TIMEOUT"})


@dataclass
class Values:
    """The effective config.yaml values after environment overrides."""

    strings: dict[str, str] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)  # key -> file label or "environment"
    max_budget: float | None = None
    code_review_k: int = 1
    prices: dict[str, Price] = field(default_factory=dict)
    #: TIMEOUT (MetaGPT's key): seconds per attempt for every endpoint without its own `timeout`
    timeout: float | None = None
    #: recognised keys polyteam does not use (MetaGPT's), one line each
    warnings: list[ConfigIssue] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        return self.strings.get(key)

    def secrets(self) -> list[str]:
        return [v for k, v in self.strings.items() if k in SECRET_KEYS or k == "SPARK_APPID"]


def read_values(config: Any, label: str, environ: Mapping[str, str]) -> tuple[Values, list[ConfigIssue]]:
    """Merge config.yaml (`config`, parsed YAML) with `environ`; issues for wrong types."""
    values = Values()
    issues: list[ConfigIssue] = []
    raw: dict[str, tuple[Any, str]] = {}
    if config is not None and not isinstance(config, dict):
        issues.append(ConfigIssue(label, "", "is not a mapping of KEY: value lines", "see docs/design.md §2"))
    elif isinstance(config, dict):
        for key, value in config.items():
            if not isinstance(key, str) or key in CONFIG2_SECTIONS:
                continue  # llm:/models:/roles: are MetaGPT 0.7+ sections (config/metagpt.py)
            canonical = key.strip().upper()
            if canonical not in KNOWN_KEYS:
                _unknown_key(key, canonical, label, values, issues)
            elif canonical not in raw or is_unset(raw[canonical][0]):
                raw[canonical] = (value, label)
    for key in (*STRING_KEYS, *NUMBER_KEYS):
        if key in FILE_ONLY_KEYS:
            continue
        for spelling in KEY_SPELLINGS.get(key, (key,)):
            env_value = environ.get(spelling)
            if not is_unset(env_value):
                raw[key] = (env_value, ENV)
                break
    for key in STRING_KEYS:
        if key not in raw:
            continue
        value, source = raw[key]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) and value is not None:
            issues.append(ConfigIssue(source, display(key), "is not a string", "quote the value"))
            continue
        if not is_unset(value):
            values.strings[key] = value.strip()
            values.source[key] = source
    _merge_base_spellings(values, issues)
    values.timeout = _number(raw.get("TIMEOUT"), "TIMEOUT", issues, positive=True, unit="seconds")
    values.max_budget = _number(raw.get("MAX_BUDGET"), "MAX_BUDGET", issues, positive=True)
    k = _number(raw.get("CODE_REVIEW_K"), "CODE_REVIEW_K", issues, whole=True)
    if k is not None and k > MAX_REVIEW_K:  # an LBTM-forever reviewer must not loop unbounded
        issues.append(ConfigIssue(raw["CODE_REVIEW_K"][1], "CODE_REVIEW_K", f"{int(k)} is too many rounds",
                                  f"use 0 (review off) to {MAX_REVIEW_K}"))  # fmt: skip
        k = None
    values.code_review_k = 1 if k is None else int(k)
    if "PRICES" in raw:
        values.prices = _prices(*raw["PRICES"], issues)
    return values, issues


def _unknown_key(key: str, canonical: str, label: str, values: Values, issues: list[ConfigIssue]) -> None:
    """MetaGPT's keys polyteam does not use are a warning; anything else is an error with the closest key."""
    if canonical in FLAT_IGNORED:
        values.warnings.append(
            ConfigIssue(label, key, "is a MetaGPT setting polyteam does not use", "ignored")
        )
        return
    close = difflib.get_close_matches(canonical, [*KNOWN_KEYS, *FLAT_IGNORED], n=1, cutoff=0.6)
    fix = f"did you mean {display(close[0])}?" if close else "remove it; docs/design.md §2 lists the keys"
    issues.append(ConfigIssue(label, key, "unknown key", fix))


def _merge_base_spellings(values: Values, issues: list[ConfigIssue]) -> None:
    """OPENAI_BASE_URL (the SDK's) and OPENAI_API_BASE (the tutorial's) are one setting: both set and
    different is an error; otherwise the one set becomes the canonical key."""
    for spec in BUILTIN:
        canonical, *others = spec.base_keys or ("",)
        set_keys = [k for k in (canonical, *others) if k in values.strings]
        if not set_keys:
            continue
        distinct = {values.strings[k].rstrip("/") for k in set_keys}
        if len(distinct) > 1:
            names = " and ".join(set_keys)
            where = ", ".join(dict.fromkeys(values.source[k] for k in set_keys))
            issues.append(
                ConfigIssue(
                    where, names, "are both set and differ", f"keep one of {names} (they mean the same)"
                )
            )
        if canonical not in values.strings:
            values.strings[canonical] = values.strings[set_keys[0]]
            values.source[canonical] = values.source[set_keys[0]]
        for key in others:
            values.strings.pop(key, None)


def _number(
    item: tuple[Any, str] | None,
    key: str,
    issues: list[ConfigIssue],
    *,
    positive: bool = False,
    whole: bool = False,
    unit: str = "USD",
) -> float | None:
    if item is None or is_unset(item[0]):
        return None
    value, source = item
    expected = "a whole number >= 0" if whole else f"a number of {unit} > 0"
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if (
        number is None
        or not math.isfinite(number)
        or (positive and number <= 0)
        or (whole and (number < 0 or number != int(number)))
    ):
        issues.append(ConfigIssue(source, key, f"is not {expected}", f"set {key} to {expected}"))
        return None
    return number


def _prices(value: Any, source: str, issues: list[ConfigIssue]) -> dict[str, Price]:
    fix = "write PRICES: {MODEL: {input: USD, output: USD}} (USD per million tokens)"
    if value is None:
        return {}
    if not isinstance(value, dict):
        issues.append(ConfigIssue(source, "PRICES", "is not a mapping of model names to prices", fix))
        return {}
    prices: dict[str, Price] = {}
    for model, price in value.items():
        try:
            parsed = PriceModel.model_validate(price)
        except ValidationError:
            issues.append(
                ConfigIssue(
                    source, f"PRICES.{model}", "is not {input: USD, output: USD} with numbers >= 0", fix
                )
            )
            continue
        prices[str(model)] = Price(input=parsed.input, output=parsed.output)
    return prices


@dataclass
class ProviderState:
    """One built-in provider as config.yaml and the environment configure it."""

    name: str
    configured_any: bool  # at least one of its required keys is set
    missing: tuple[str, ...]  # required keys not set (display spelling)
    endpoint: Endpoint | None  # None when incomplete
    issues: list[ConfigIssue] = field(default_factory=list)  # bad values (reported when the provider matters)

    @property
    def complete(self) -> bool:
        return not self.missing and self.endpoint is not None


def is_url(value: str, schemes: tuple[str, ...] = ("http", "https")) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return False
    return parts.scheme in schemes and bool(parts.netloc)


def spark_domain_issue(
    url: str, domain: str | None, label: str, key: str
) -> tuple[str | None, ConfigIssue | None]:
    """The Spark domain for `url` (DOMAIN if given) and an issue when they do not match (wire-protocols.md §2c)."""
    try:
        path = urlsplit(url).path.rstrip("/")
    except ValueError:
        path = ""
    allowed = domains_for(path)
    if allowed is None:
        if domain:
            return domain, None
        return None, ConfigIssue(
            label, key, f"no default domain for the Spark path {path or '/'}", "set DOMAIN"
        )
    if domain is None:
        return allowed[0], None
    if domain not in allowed:
        fix = f"set DOMAIN to {' or '.join(allowed)}, or change SPARK_URL to the version that serves {domain}"
        return domain, ConfigIssue(label, key, f"{domain} does not match the SPARK_URL path {path}", fix)
    return domain, None


def base_for(kind: str, values: Values) -> str:
    """The configured base of a built-in provider, else its default (claude without its trailing /v1)."""
    spec = spec_for(kind)
    key = spec.base_keys[0] if spec.base_keys else ""
    return strip_base(kind, values.get(key) or spec.default_base)


def strip_base(kind: str, base: str) -> str:
    """`base` without a trailing slash, and without the suffix the kind's SDK adds itself (claude's /v1)."""
    base = base.rstrip("/")
    suffix = spec_for(kind).sdk_adds
    if suffix and base.endswith(suffix):
        base = base[: -len(suffix)]
    return base


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


def provider_states(values: Values, config_label: str) -> dict[str, ProviderState]:
    """Every built-in provider's state, in the default order (openai, claude, spark, zhipu, open_llm)."""
    states: dict[str, ProviderState] = {}
    for spec in BUILTIN:
        name, required = spec.name, spec.required
        missing = tuple(display(k) for k in required if values.get(k) is None)
        configured_any = len(missing) < len(required)
        issues: list[ConfigIssue] = []
        endpoint = None if missing else _endpoint(name, values)
        states[name] = ProviderState(name, configured_any, missing, endpoint, issues)
        _url_issues(name, values, states[name].issues)
    return states


def _url_issues(name: str, values: Values, issues: list[ConfigIssue]) -> None:
    spec = spec_for(name)
    key = spec.base_keys[0] if spec.base_keys else None
    base = values.get(key) if key else None
    schemes = spec.schemes
    if key and base and not is_url(base, schemes):
        example = spec.default_base or "https://host/v1"
        issues.append(
            ConfigIssue(values.source[key], key, f"is not a {' or '.join(schemes)} URL", f"e.g. {example}")
        )
    if "OPENAI_PROXY" in spec.extra_keys:
        issue = proxy_issue(
            values.get("OPENAI_PROXY"), values.source.get("OPENAI_PROXY", ENV), "OPENAI_PROXY"
        )
        if issue is not None:
            issues.append(issue)
    if name == "zhipu":
        key_value = values.get("ZHIPUAI_API_KEY")
        if key_value and not is_zhipu_key(key_value):
            issues.append(
                ConfigIssue(
                    values.source["ZHIPUAI_API_KEY"],
                    "ZHIPUAI_API_KEY",
                    "is not in the form id.secret",
                    "copy the whole key",
                )
            )
    if name == "spark" and (
        values.get("SPARK_URL") is None or is_url(values.get("SPARK_URL") or "", schemes)
    ):
        label = values.source.get("DOMAIN") or values.source.get("SPARK_URL") or ENV
        _domain, issue = spark_domain_issue(base_for("spark", values), values.get("DOMAIN"), label, "DOMAIN")
        if issue is not None and (values.get("DOMAIN") or values.get("SPARK_URL")):
            issues.append(issue)


def proxy_issue(value: str | None, label: str, key: str) -> ConfigIssue | None:
    """An issue when `value` is not a proxy URL the HTTP client can use (socks needs the socksio package)."""
    if not value:
        return None
    schemes = (
        ("http", "https", "socks5", "socks5h") if importlib.util.find_spec("socksio") else ("http", "https")
    )
    if is_url(value, schemes):
        return None
    fix = "use http://HOST:PORT" + ("" if "socks5" in schemes else " (socks5:// needs: pip install socksio)")
    return ConfigIssue(label, key, f"is not a proxy URL polyteam can use ({' or '.join(schemes)})", fix)


def is_zhipu_key(value: str) -> bool:
    head, dot, tail = value.partition(".")
    return bool(head and dot and tail)


def _endpoint(name: str, values: Values) -> Endpoint:
    spec = spec_for(name)
    base = base_for(name, values)
    model = values.get(spec.model_key or "") or spec.default_model
    if name == "spark":
        domain, _issue = spark_domain_issue(base, values.get("DOMAIN"), "", "DOMAIN")
        return Endpoint(
            llm="spark",
            kind="spark",
            base_url=base,
            model=domain or "",
            domain=domain,
            app_id=values.get("SPARK_APPID"),
            api_key=_secret(values.get("SPARK_API_KEY")),
            api_secret=_secret(values.get("SPARK_API_SECRET")),
        )
    extra: dict[str, object] = {}
    if "OPENAI_PROXY" in spec.extra_keys:
        extra["proxy"] = values.get("OPENAI_PROXY")
        # structured outputs are certain only on the public API; forwarders vary
        extra["json_schema"] = base == spec.default_base
    return Endpoint(
        llm=name,
        kind=name,  # type: ignore[arg-type]
        base_url=base,
        model=model,
        api_key=_secret(values.get(spec.key or "")),
        **extra,  # type: ignore[arg-type]
    )
