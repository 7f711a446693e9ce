"""What every attempt of one logical call shares: its records, the Meter the gateway charges, the call context.

The wrappers (`polyteam.wrappers`, `polyteam.metering`, `polyteam.limits`) and `polyteam.gateway` read
and write these; `polyteam.gateway` re-exports them.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from polyteam.providers.base import (
    Completion,
    Endpoint,
    Provider,
)

SleepFn = Callable[[float], Awaitable[Any]]
AttemptObserver = Callable[["AttemptRecord"], None]
DeltaCallback = Callable[[str], Any]
ProviderFactory = Callable[[Endpoint], Provider]
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt at one endpoint; the ledger prices and stores it (DESIGN §4)."""

    ts: float
    role: str
    action: str
    llm: str
    provider: str
    model: str
    base_url: str
    attempt: int  # 1-based, per logical call across retries and fallbacks
    ok: bool
    error: str | None  # the error class's `kind`, None when ok
    input_tokens: int
    output_tokens: int
    latency_s: float
    estimated: bool = False
    call_id: str = ""  # one logical gateway.ask; retries and fallbacks share it
    endpoint: Endpoint | None = None  # for pricing; not written to the ledger
    request_id: str | None = None  # the provider's id of the request (Completion.request_id)
    finish_reason: str | None = None
    attempt_id: str = ""  # this attempt; its ledger `started` line has the same id
    #: the server's own usage report when it was out of range (the counts above are clamped)
    reported_usage: tuple[Any, Any] | None = None
    #: "reported" (the server's counts), "clamped", "estimated" (a stream cut short: its text's
    #: bytes), "reservation" (abandoned in flight: it may be billed in full)
    charged: str = "reported"


@dataclass(frozen=True)
class AttemptStart:
    """What the meter is told before an attempt is sent (the ledger's `started` line)."""

    role: str
    action: str
    call_id: str
    attempt_id: str
    attempt: int
    input_bound: int  # no tokenizer makes more input tokens than this (`prompt_token_bound`)
    max_tokens: int


@dataclass(frozen=True)
class Answer:
    completion: Completion
    llm: str  # the LLM that finally answered (after any fallback)
    endpoint: Endpoint
    attempts: int
    latency_s: float


class Meter(Protocol):
    """Budget and ledger, as the gateway sees them (implemented in `polyteam.cost`)."""

    def reserve(
        self, endpoint: Endpoint, prompt_tokens: int, max_tokens: int, start: AttemptStart | None = None
    ) -> float:
        """Reserve this attempt's worst-case cost (and log `start`); raise BudgetExceededError if it
        could cross the budget."""
        ...

    def record(self, record: AttemptRecord, reserved: float) -> None:
        """Release the reservation, price the attempt and append its ledger line."""
        ...


# -- the logical call an attempt belongs to ---------------------------------------------------


@dataclass
class _Call:
    """What every attempt of one `Gateway.ask` shares (set in a ContextVar for the wrappers)."""

    role: str = ""
    action: str = ""
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    observers: tuple[AttemptObserver, ...] = ()
    attempts: int = 0
    answered_by: Endpoint | None = None
    # the previous attempt, for InstrumentedProvider (retry, re-ask or fallback?)
    last_llm: str = ""
    last_ok: bool = False
    last_error: str | None = None


_CALL: ContextVar[_Call | None] = ContextVar("polyteam_gateway_call", default=None)
