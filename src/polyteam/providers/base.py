"""All the gateway knows of a provider: the endpoint it talks to and one async interface.

A provider makes exactly one attempt per call. Retry, fallback, concurrency limits, budget
and the ledger are wrappers in `polyteam.gateway`; a provider only maps its wire protocol
and its errors onto `polyteam.errors`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import SecretStr

#: provider kinds: the wire protocol a route speaks (config names map onto these)
ProviderKind = Literal["openai", "open_llm", "claude", "spark", "zhipu", "local"]


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float


@dataclass(frozen=True)
class Endpoint:
    """One resolved LLM: where it is, what model name goes on the wire, and how to reach it.

    Secrets are `SecretStr` so that printing an Endpoint never shows them.
    """

    llm: str  # the name the user routed to: "openai", "claude", or a MODEL_LIST key
    kind: ProviderKind
    base_url: str  # for spark the ws(s):// URL; for local filled in once the server runs
    model: str  # the model name sent on the wire
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None  # spark
    app_id: str | None = None  # spark
    domain: str | None = None  # spark: parameter.chat.domain
    proxy: str | None = None  # OPENAI_PROXY
    timeout: float | None = None  # seconds per attempt
    max_concurrency: int | None = None
    fallback: tuple[str, ...] = ()
    price: Price | None = None  # a configured override; cost.py knows the built-in table
    json_schema: bool = False  # the server accepts JSON-schema-constrained output
    bases: tuple[str, ...] = ()  # extra bases for load balancing (base_url is the first)
    gguf: str | None = None  # local: path of the GGUF file
    n_ctx: int | None = None  # local
    threads: int | None = None  # local
    tiny: bool = False  # a tiny model: the team caps tokens per action for it
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: the request field for the output cap (`token_param:`); None: the kind and model family decide
    token_param: str | None = None
    #: sent on every call to this endpoint (MODEL_LIST `extra_body:` / `headers:` / `query:`)
    extra_body: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    headers: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    query: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def hosted(self) -> bool:
        """Whether the provider bills these calls: its kind says, or (OpenAI-compatible) its host."""
        from polyteam.providers.kinds import is_hosted

        return is_hosted(self.kind, (self.base_url, *self.bases))

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies one endpoint for client sharing and concurrency limits."""
        return (self.kind, self.base_url, self.model)


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class CallOptions:
    max_tokens: int = 2048
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    #: a JSON schema the reply must follow; sent only where the endpoint supports it
    json_schema: dict[str, Any] | None = None
    schema_name: str = "output"
    timeout: float | None = None
    #: sampling knobs some servers understand (llama.cpp: repeat_penalty)
    extra_body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    model: str
    finish_reason: str | None = None
    #: True when the provider reported no usage and the counts were estimated
    estimated: bool = False
    #: True when the reply was far over max_tokens and was cut (its text ends with a marker)
    truncated: bool = False
    #: the provider's id for this request (its request-id header, else the reply's id), for support
    request_id: str | None = None


@dataclass(frozen=True)
class Delta:
    """A piece of streamed text."""

    text: str


#: what `Provider.stream` returns: an async generator of Deltas, then one Completion; its consumer
#: closes it (`contextlib.aclosing`) when it stops early
Stream = AsyncGenerator[Delta | Completion, None]


@runtime_checkable
class Provider(Protocol):
    endpoint: Endpoint

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        """One attempt. Raises a `polyteam.errors.ProviderError` subclass on failure."""
        ...

    def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        """One streamed attempt: yields `Delta`s, and a `Completion` last (text joined, usage)."""
        ...

    async def aclose(self) -> None: ...


def estimate_tokens(text: str) -> int:
    """A rough token count (≈4 characters a token) for servers that report no usage."""
    return max(1, (len(text) + 3) // 4) if text else 0


def estimate_prompt_tokens(messages: list[Message]) -> int:
    return sum(estimate_tokens(m.content) + 4 for m in messages)
