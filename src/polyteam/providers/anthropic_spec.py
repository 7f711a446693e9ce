"""The `claude` kind (served by `anthropic.py`): names, keys, defaults."""

from __future__ import annotations

from polyteam.providers.spec import ProviderSpec

CLAUDE = ProviderSpec(
    name="claude",
    module="polyteam.providers.anthropic",
    cls="AnthropicProvider",
    summary="Anthropic Claude",
    aliases=("anthropic",),
    api_types=("anthropic", "claude"),
    key="ANTHROPIC_API_KEY",
    key_spellings=("Anthropic_API_KEY",),  # the tutorial's spelling
    required=("ANTHROPIC_API_KEY",),
    # the tutorial's ANTHROPIC_API_BASE; the SDK's ANTHROPIC_BASE_URL
    base_keys=("ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"),
    model_key="ANTHROPIC_API_MODEL",
    secret_keys=("ANTHROPIC_API_KEY",),
    default_base="https://api.anthropic.com",
    sdk_adds="/v1",  # the SDK posts to {base}/v1/messages
    # claude-3-5-sonnet-20241022 retired 2025-10, Sonnet 4 2026-06-15, Sonnet 4.5 2026-11-30
    default_model="claude-sonnet-5",
    default_model_date="current 2026-12 (provider-quirks.md)",
    token_param="max_tokens",  # required on every call
    hosted=True,
)
