"""The registry of provider kinds: every `ProviderSpec`, name lookups, and whether an endpoint is billed.

Each kind's spec lives beside its wire module (`openai_spec.py` beside `openai.py`, …) and says its
config names and aliases, its config.yaml key names, its default base and model, which request
parameters it takes, and whether it is hosted (billed). Configuration, routing and pricing read them
here; adding a kind is its wire module, its spec module and one line in `SPECS`. Nothing here imports
an SDK.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from polyteam.providers.anthropic_spec import CLAUDE
from polyteam.providers.local_spec import LOCAL
from polyteam.providers.openai_spec import OPEN_LLM, OPENAI
from polyteam.providers.spark_spec import SPARK
from polyteam.providers.spec import ProviderSpec
from polyteam.providers.zhipu_spec import ZHIPU

#: every kind, in the order the default LLM is chosen (DESIGN §2)
SPECS: tuple[ProviderSpec, ...] = (OPENAI, CLAUDE, SPARK, ZHIPU, OPEN_LLM, LOCAL)
BY_NAME: dict[str, ProviderSpec] = {s.name: s for s in SPECS}
#: the built-in providers configured from config.yaml
BUILTIN: tuple[ProviderSpec, ...] = tuple(s for s in SPECS if s.builtin)


#: a stream that sends nothing for this long is dead (issue 13: a drip or a silent server)
STREAM_IDLE_S = 60.0


def default_deadline(kind: str) -> float:
    """Seconds one attempt of `kind` may take when neither the entry nor TIMEOUT says."""
    spec = BY_NAME.get(kind)
    return spec.deadline_s if spec is not None else 300.0


def fold(name: str) -> str:
    return re.sub(r"[\s_-]+", "_", name.strip().lower())


_ALIASES: dict[str, str] = {fold(a): s.name for s in SPECS for a in (s.name, *s.aliases)}
_API_TYPES: dict[str, str] = {fold(a): s.name for s in SPECS for a in s.api_types}


def spec_for(kind: str) -> ProviderSpec:
    """The spec of a kind. Raises: KeyError for an unknown kind."""
    return BY_NAME[kind]


def provider_name(name: object, *, builtin_only: bool = True) -> str | None:
    """The canonical provider name for `name` (tolerating the seed's spellings), or None."""
    if not isinstance(name, str):
        return None
    found = _ALIASES.get(fold(name))
    if found is None or (builtin_only and not BY_NAME[found].builtin):
        return None
    return found


def kind_for_api_type(api_type: str) -> str | None:
    """The kind serving a MetaGPT `api_type` (openai, azure, anthropic, zhipuai, deepseek, …), or None."""
    folded = fold(api_type)
    return _ALIASES.get(folded) or _API_TYPES.get(folded)


def is_private_host(url: str) -> bool:
    """True for loopback, private-network, link-local and `localhost`-style hosts (and local:// files)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme == "local":
        return True
    if host in ("localhost", "host.docker.internal") or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def is_hosted(kind: str, base_urls: Sequence[str]) -> bool:
    """Whether calls to an endpoint are billed: its kind says, or for OpenAI-compatible servers its host."""
    try:
        hosted = BY_NAME[kind].hosted
    except KeyError:
        return True
    if hosted is not None:
        return hosted
    return not all(is_private_host(b) for b in base_urls)
