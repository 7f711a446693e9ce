"""The `openai` and `open_llm` kinds (both served by `openai.py`): names, keys, defaults, parameters."""

from __future__ import annotations

import re

from polyteam.providers.spec import ProviderSpec

OPENAI = ProviderSpec(
    name="openai",
    module="polyteam.providers.openai",
    cls="OpenAIProvider",
    summary="OpenAI",
    api_types=("azure", "openai"),
    key="OPENAI_API_KEY",
    required=("OPENAI_API_KEY",),
    # the tutorial's OPENAI_API_BASE; the official SDK's and MetaGPT 0.6's OPENAI_BASE_URL (provider-quirks.md)
    base_keys=("OPENAI_API_BASE", "OPENAI_BASE_URL"),
    model_key="OPENAI_API_MODEL",
    extra_keys=("OPENAI_PROXY",),
    secret_keys=("OPENAI_API_KEY",),
    default_base="https://api.openai.com/v1",
    default_model="gpt-5-mini",
    default_model_date="2025-08-07 (still current 2026-12)",
    # every current chat model accepts it; the gpt-5 family and o-series reject max_tokens
    token_param="max_completion_tokens",
    hosted=True,
)

OPEN_LLM = ProviderSpec(
    name="open_llm",
    module="polyteam.providers.openai",
    cls="OpenAIProvider",
    summary="an OpenAI-compatible server",
    aliases=("openllm", "class_openai"),
    # MetaGPT api_types of hosted OpenAI-compatible services and open servers
    api_types=(
        "open_llm",
        "ollama",
        "deepseek",
        "dashscope",
        "moonshot",
        "gemini",
        "groq",
        "openrouter",
        "together",
        "mistral",
        "yi",
        "fireworks",
        "vllm",
        "siliconflow",
        "qwen",
        "kimi",
    ),  # fmt: skip
    key="OPEN_LLM_API_KEY",
    required=("OPEN_LLM_API_BASE", "OPEN_LLM_API_MODEL"),
    base_keys=("OPEN_LLM_API_BASE",),
    model_key="OPEN_LLM_API_MODEL",
    secret_keys=("OPEN_LLM_API_KEY",),
    token_param="max_tokens",  # llama.cpp, vLLM, Ollama and older forwarders know only this one
    hosted=None,  # loopback / private network: the user's own server; any other host bills
)

#: MetaGPT / well-known api_types served over the OpenAI wire, and their public bases (an entry may set its own)
COMPATIBLE_BASES: dict[str, str] = {
    "deepseek": "https://api.deepseek.com/v1",
    "moonshot": "https://api.moonshot.cn/v1",
    "kimi": "https://api.moonshot.cn/v1",
    "dashscope": "https://dashscope.aliyuncs.com/compatible-mode/v1",
    "qwen": "https://dashscope.aliyuncs.com/compatible-mode/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta/openai",
    "groq": "https://api.groq.com/openai/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "together": "https://api.together.xyz/v1",
    "mistral": "https://api.mistral.ai/v1",
    "fireworks": "https://api.fireworks.ai/inference/v1",
    "siliconflow": "https://api.siliconflow.cn/v1",
    "ollama": "http://127.0.0.1:11434/v1",
}

#: reasoning families: no temperature other than 1, no max_tokens (provider-quirks.md, OpenAI)
_REASONING = re.compile(r"^(?:[\w.-]+/)?(?:gpt-5|o\d)(?:[.\-_]|$)", re.IGNORECASE)


def is_reasoning_model(model: str) -> bool:
    """gpt-5, gpt-5.x and the o-series (o1, o3, o4-mini …), also behind a `vendor/` prefix."""
    return bool(_REASONING.match(model.strip()))
