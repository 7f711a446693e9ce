"""The shape of a provider kind's spec (`ProviderSpec`); the specs themselves sit beside their wire modules.

`openai_spec.py` beside `openai.py`, and so on; `kinds.py` lists them. Nothing here imports an SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TokenParam = Literal["max_tokens", "max_completion_tokens"]


@dataclass(frozen=True)
class ProviderSpec:
    """Everything outside a kind's wire module knows about that kind."""

    name: str  # the canonical config name (`openai`, `claude`, …); also the Endpoint kind
    module: str  # the wire module and class serving it
    cls: str
    summary: str  # a few words for messages: "OpenAI", "an OpenAI-compatible server"
    aliases: tuple[str, ...] = ()  # other spellings accepted (folded: lower case, runs of -/_/space -> _)
    #: MetaGPT `api_type` values served by this kind
    api_types: tuple[str, ...] = ()
    #: config.yaml / environment key of the API key (None: the kind takes none, e.g. local)
    key: str | None = None
    #: other spellings of `key` (the seed's `Anthropic_API_KEY`)
    key_spellings: tuple[str, ...] = ()
    #: keys that must all be set for the built-in provider to be configured completely
    required: tuple[str, ...] = ()
    #: base URL keys: the first is canonical; the rest are accepted spellings of the same setting
    base_keys: tuple[str, ...] = ()
    model_key: str | None = None
    #: further config.yaml keys this kind reads (SPARK_APPID, OPENAI_PROXY, DOMAIN)
    extra_keys: tuple[str, ...] = ()
    #: config.yaml keys of this kind that hold secrets
    secret_keys: tuple[str, ...] = ()
    default_base: str = ""
    default_model: str = ""
    #: when default_model was checked to be current (provider-quirks.md)
    default_model_date: str = ""
    schemes: tuple[str, ...] = ("http", "https")
    #: a path suffix the kind's SDK appends itself, dropped from a configured base (claude: /v1)
    sdk_adds: str = ""
    #: the request field carrying the output-token cap
    token_param: TokenParam = "max_tokens"
    #: billed by the provider: True/False, or None when the base's host decides (OpenAI-compatible servers)
    hosted: bool | None = True
    #: default per-attempt deadline in seconds (total; streams also stop after STREAM_IDLE_S of silence)
    deadline_s: float = 300.0
    #: a built-in provider configured from config.yaml (False: only as a MODEL_LIST api_type)
    builtin: bool = True

    def all_keys(self) -> tuple[str, ...]:
        """Every config.yaml key this kind reads, canonical spellings."""
        keys = (self.key, *self.base_keys, self.model_key, *self.extra_keys, *self.required)
        return tuple(dict.fromkeys(k for k in keys if k))
