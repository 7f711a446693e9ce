"""The `spark` kind (served by `spark.py`): names, keys, defaults, and the one table of chat domains."""

from __future__ import annotations

from polyteam.providers.spec import ProviderSpec

SPARK = ProviderSpec(
    name="spark",
    module="polyteam.providers.spark",
    cls="SparkProvider",
    summary="iFlytek Spark",
    api_types=("spark",),
    key="SPARK_API_KEY",
    required=("SPARK_APPID", "SPARK_API_KEY", "SPARK_API_SECRET"),
    base_keys=("SPARK_URL",),
    extra_keys=("SPARK_APPID", "SPARK_API_SECRET", "DOMAIN"),
    secret_keys=("SPARK_API_KEY", "SPARK_API_SECRET"),
    default_base="wss://spark-api.xf-yun.com/v3.5/chat",
    schemes=("ws", "wss"),
    token_param="max_tokens",
    hosted=True,
)

#: chat paths and the domains they serve, the first being the default (xfyun docs, provider-quirks.md);
#: `general` and `generalv2` are older names still answered on their paths
SPARK_DOMAINS: dict[str, tuple[str, ...]] = {
    "/v1.1/chat": ("lite", "general"),
    "/v2.1/chat": ("generalv2",),
    "/v3.1/chat": ("generalv3",),
    "/v3.5/chat": ("generalv3.5",),
    "/v4.0/chat": ("4.0Ultra",),
    "/chat/pro-128k": ("pro-128k",),
    "/chat/max-32k": ("max-32k",),
    "/v1/x1": ("x1",),
}


def domains_for(path: str) -> tuple[str, ...] | None:
    """The domains a chat path serves (first is the default), or None for a path Spark does not serve."""
    path = path.rstrip("/")
    return next((d for p, d in SPARK_DOMAINS.items() if path.endswith(p)), None)
