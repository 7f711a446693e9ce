"""The `zhipu` kind (served by `zhipu.py`): names, keys, defaults."""

from __future__ import annotations

from polyteam.providers.spec import ProviderSpec

ZHIPU = ProviderSpec(
    name="zhipu",
    module="polyteam.providers.zhipu",
    cls="ZhipuProvider",
    summary="Zhipu GLM",
    aliases=("zhipuai",),
    api_types=("zhipuai", "zhipu", "glm"),
    key="ZHIPUAI_API_KEY",
    required=("ZHIPUAI_API_KEY",),
    base_keys=("ZHIPUAI_API_BASE",),
    model_key="ZHIPUAI_API_MODEL",
    secret_keys=("ZHIPUAI_API_KEY",),
    default_base="https://open.bigmodel.cn/api/paas/v4",
    # GLM-4 series, 5 CNY per M tokens; no thinking switch needed (GLM-4.5+ want `thinking` in extra_body)
    default_model="glm-4-plus",
    default_model_date="current 2026-12 (provider-quirks.md)",
    token_param="max_tokens",
    hosted=True,
)
