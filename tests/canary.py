"""Canary secrets: fake credentials every test config can use, and the scanner that finds them.

Tests that need a key import these values (`from canary import OPENAI_API_KEY`), so any leak of
a key into output, logs, the ledger, state, reports or the emulator's log is caught by the
suite-wide check in `canary_plugin.py`. The names of the canaries are safe to print; the values
are not.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

OPENAI_API_KEY = "sk-canary-0penai-7f3a9c1e5b2d4f6081"
ANTHROPIC_API_KEY = "sk-ant-canary-a1b2c3d4e5f60718293a"
SPARK_APPID = "canaryapp"  # not a secret: sent in every Spark request frame
SPARK_API_KEY = "canarysparkkey5e1f0b2c9d8a7f60"
SPARK_API_SECRET = "CanarySparkSecret0f9e8d7c6b5a4321"
ZHIPUAI_ID = "c0ffee00c0ffee00c0ffee00c0ffee00"  # the id half is sent (inside a JWT); not scanned
ZHIPUAI_SECRET = "CanaryZhipuSecr1"
ZHIPUAI_API_KEY = f"{ZHIPUAI_ID}.{ZHIPUAI_SECRET}"
OPEN_LLM_API_KEY = "sk-canary-openllm-55aa55aa55aa55aa"


def _spark_signed_forms(key: str) -> dict[str, str]:
    # a signed Spark URL carries base64('api_key="KEY", ...'): its first whole groups hold the key
    origin = f'api_key="{key}"'
    prefix = base64.b64encode(origin.encode()).decode()[: len(origin) // 3 * 4]
    return {
        "SPARK_API_KEY (in a signed URL)": prefix,
        "SPARK_API_KEY (in a URL-quoted signed URL)": quote(prefix),
    }


#: canary name -> the exact text that must never appear
CANARIES: dict[str, str] = {
    "OPENAI_API_KEY": OPENAI_API_KEY,
    "ANTHROPIC_API_KEY": ANTHROPIC_API_KEY,
    "SPARK_API_KEY": SPARK_API_KEY,
    "SPARK_API_SECRET": SPARK_API_SECRET,
    "ZHIPUAI_API_KEY": ZHIPUAI_API_KEY,
    "ZHIPUAI_API_KEY (secret half)": ZHIPUAI_SECRET,
    "OPEN_LLM_API_KEY": OPEN_LLM_API_KEY,
    **_spark_signed_forms(SPARK_API_KEY),
}

#: file names that legitimately hold the canaries: the configs tests write as input
ALLOWED_FILE_NAMES = frozenset(
    {"config.yaml", "config.yml", "multi_llm_config.yaml", "key.yaml", "config2.yaml", ".env"}
)


def find_canaries(data: str | bytes) -> list[str]:
    """The names of the canaries present in `data` (never their values)."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="replace")
    return [name for name, value in CANARIES.items() if value.encode() in data]


def assert_no_canary(data: str | bytes, where: str = "output") -> None:
    """Fail (naming the canary, not showing it) if any canary secret is in `data`."""
    found = find_canaries(data)
    assert not found, f"canary secret(s) leaked into {where}: {', '.join(found)}"


def canary_endpoint(**fields: Any) -> Any:
    """A `polyteam.providers.base.Endpoint(**fields)` holding the canary credentials of its kind."""
    from pydantic import SecretStr

    from polyteam.providers.base import Endpoint

    key, secret = {
        "openai": (OPENAI_API_KEY, None),
        "claude": (ANTHROPIC_API_KEY, None),
        "zhipu": (ZHIPUAI_API_KEY, None),
        "spark": (SPARK_API_KEY, SPARK_API_SECRET),
        "open_llm": (OPEN_LLM_API_KEY, None),
        "local": (OPEN_LLM_API_KEY, None),
    }[fields["kind"]]
    fields.setdefault("api_key", SecretStr(key))
    if secret is not None:
        fields.setdefault("api_secret", SecretStr(secret))
    return Endpoint(**fields)


def canary_environ() -> dict[str, str]:
    """Every provider variable set to its canary (merge into a subprocess environment)."""
    return {
        "OPENAI_API_KEY": OPENAI_API_KEY,
        "ANTHROPIC_API_KEY": ANTHROPIC_API_KEY,
        "SPARK_APPID": SPARK_APPID,
        "SPARK_API_KEY": SPARK_API_KEY,
        "SPARK_API_SECRET": SPARK_API_SECRET,
        "ZHIPUAI_API_KEY": ZHIPUAI_API_KEY,
    }
