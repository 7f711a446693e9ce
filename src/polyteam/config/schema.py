"""The shapes of `config.yaml` and `multi_llm_config.yaml`: known keys, defaults, the MODEL_LIST entry model.

Only shapes and constants live here; `validate.py` turns them into issues and endpoints.
The seed's spellings (`Anthropic_API_KEY`) appear here as aliases only. The per-provider tables are
read off the provider specs (`polyteam.providers.kinds`), so a new kind adds nothing here.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from polyteam.providers.kinds import BUILTIN, SPECS
from polyteam.providers.local_spec import BUNDLED_INSTALL_HINT, BUNDLED_MODEL, LOCAL_INSTALL_HINT
from polyteam.providers.spark_spec import SPARK_DOMAINS

CONFIG_FILE = "config.yaml"
MULTI_FILE = "multi_llm_config.yaml"
CONFIG2_FILE = "config2.yaml"  # MetaGPT 0.7+

#: the built-in providers, in the default order; every table below is read off their specs
_BUILTIN = BUILTIN

#: config.yaml keys holding secrets: registered with redact, never echoed, never in Settings.values
SECRET_KEYS: frozenset[str] = frozenset(k for s in _BUILTIN for k in s.secret_keys)

#: every string key polyteam reads from config.yaml (canonical spelling); each is also an env variable
STRING_KEYS: tuple[str, ...] = tuple(dict.fromkeys(k for s in _BUILTIN for k in s.all_keys()))
NUMBER_KEYS: tuple[str, ...] = ("MAX_BUDGET", "CODE_REVIEW_K", "TIMEOUT")
#: every config.yaml key polyteam reads (upper case; the file may write them in any case)
KNOWN_KEYS: frozenset[str] = frozenset((*STRING_KEYS, *NUMBER_KEYS, "PRICES"))
#: the most code review rounds per file (CODE_REVIEW_K, `--review-k`): an LBTM-forever reviewer stops here
MAX_REVIEW_K = 10

#: how a key is written in messages (the seed spells the Anthropic key this way)
DISPLAY_NAME: dict[str, str] = {s.key: s.key_spellings[0] for s in _BUILTIN if s.key and s.key_spellings}
#: every spelling of a key read from the environment or config.yaml, canonical first
KEY_SPELLINGS: dict[str, tuple[str, ...]] = {
    s.key: (s.key, *s.key_spellings) for s in _BUILTIN if s.key and s.key_spellings
}

#: provider -> the keys that must all be set for it to be configured completely
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {s.name: s.required for s in _BUILTIN}
DEFAULT_BASE: dict[str, str] = {s.name: s.default_base for s in _BUILTIN if s.default_base}
DEFAULT_MODEL: dict[str, str] = {s.name: s.default_model for s in _BUILTIN if s.default_model}
MODEL_KEY: dict[str, str] = {s.name: s.model_key for s in _BUILTIN if s.model_key}
BASE_KEY: dict[str, str] = {s.name: s.base_keys[0] for s in _BUILTIN if s.base_keys}
KEY_OF: dict[str, str] = {s.name: s.key for s in _BUILTIN if s.key}

#: multi_llm_config.yaml keys that are not Role/Action names
MULTI_SPECIAL_KEYS: tuple[str, ...] = ("MODEL_LIST", "DEFAULT_LLM", "INHERIT_ROLE_LLM")

_PLACEHOLDER = re.compile(r"^[\s<\[{(]*(your|insert|enter|put)([\s_.-][\w\s.-]*)?[\s>\]})]*$", re.IGNORECASE)


def is_unset(value: Any) -> bool:
    """Empty values and placeholders such as YOUR_API_KEY / YOUR_APPID / <your key> count as unset."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip() or bool(_PLACEHOLDER.match(value))
    return False


def display(key: str) -> str:
    return DISPLAY_NAME.get(key, key)


class PriceModel(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0)
    output: float = Field(ge=0)


class ModelEntry(BaseModel):
    """One MODEL_LIST entry (DESIGN §2). Every field is optional; `validate.py` checks what a kind needs."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    api_type: str | None = None
    open_llm_api_base: str | list[str] | None = None
    base_url: str | list[str] | None = None  # the SDKs' and MetaGPT's name for open_llm_api_base
    api_base: str | list[str] | None = None  # LiteLLM's and MetaGPT 0.5's
    bases: list[str] | None = None
    api_key: str | None = None
    api_secret: str | None = None  # spark
    app_id: str | None = None  # spark
    domain: str | None = None  # spark
    model: str | None = None
    price: PriceModel | None = None
    fallback: str | list[str] | None = None
    max_concurrency: int | None = Field(default=None, ge=1)
    timeout: float | None = Field(default=None, gt=0)
    json_schema: bool | None = None
    proxy: str | None = None
    gguf: str | None = None  # local
    n_ctx: int | None = Field(default=None, ge=1)  # local
    threads: int | None = Field(default=None, ge=1)  # local
    tiny: bool | None = None
    token_param: Literal["max_tokens", "max_completion_tokens"] | None = None
    extra_body: dict[str, Any] | None = None
    headers: dict[str, str | int | float | date] | None = None
    query: dict[str, str | int | float | date] | None = None  # YAML reads 2024-10-21 as a date


#: MODEL_LIST fields that are spellings of open_llm_api_base
BASE_ALIASES: tuple[str, ...] = ("base_url", "api_base")

#: what each MODEL_LIST field expects, for "wrong type" messages
ENTRY_EXPECTS: dict[str, str] = {
    "api_type": f"one of {', '.join(s.name for s in SPECS)} (or a MetaGPT api_type)",
    "open_llm_api_base": 'a URL such as "http://127.0.0.1:8000/v1", or a list of them',
    "base_url": 'a URL such as "http://127.0.0.1:8000/v1" (same as open_llm_api_base)',
    "api_base": 'a URL such as "http://127.0.0.1:8000/v1" (same as open_llm_api_base)',
    "bases": "a list of URLs",
    "api_key": "a string",
    "api_secret": "a string",
    "app_id": "a string",
    "domain": "a string (the Spark domain)",
    "model": "a string (the model name sent on the wire)",
    "price": "a mapping {input: USD, output: USD} per million tokens",
    "price.input": "a number >= 0 (USD per million input tokens)",
    "price.output": "a number >= 0 (USD per million output tokens)",
    "fallback": "an LLM name or a list of LLM names",
    "max_concurrency": "a whole number >= 1",
    "timeout": "a number of seconds > 0",
    "json_schema": "true or false",
    "proxy": "a URL",
    "gguf": "a path to a .gguf file, or smollm2-135m",
    "n_ctx": "a whole number >= 1",
    "threads": "a whole number >= 1",
    "tiny": "true or false",
    "token_param": "max_tokens or max_completion_tokens",
    "extra_body": "a mapping of request body fields, e.g. {enable_thinking: false}",
    "headers": "a mapping of header names to strings",
    "query": "a mapping of query parameters, e.g. {api-version: 2024-10-21}",
}
ENTRY_FIELDS: tuple[str, ...] = tuple(ModelEntry.model_fields)


#: names defined elsewhere and read through this module
__all__ = [
    "BASE_KEY",
    "BUNDLED_INSTALL_HINT",
    "BUNDLED_MODEL",
    "DEFAULT_BASE",
    "DEFAULT_MODEL",
    "KEY_OF",
    "LOCAL_INSTALL_HINT",
    "MODEL_KEY",
    "REQUIRED_KEYS",
    "SECRET_KEYS",
    "SPARK_DOMAINS",
    "STRING_KEYS",
]
