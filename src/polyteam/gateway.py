"""What the team calls to "ask the LLM for Role R, Action A".

STUB: the providers helper owns this module. Contract used by the team and cost code:

    gateway = Gateway(router, meter=meter, sleep=asyncio.sleep)
    answer = await gateway.ask(role, action, messages, options, on_delta=None, llm=None)
        # llm=None: the route's LLM with its fallback chain; llm="X": start the chain at X
        # (the team uses it to move past an LLM whose replies stay malformed)
    gateway.chain(role, action) -> list[str]   # the route's LLM then its fallbacks, in order
    await gateway.aclose()

Composition (outermost first): fallback over per-LLM stacks of
retry -> meter(budget check + ledger line per attempt) -> concurrency limit -> timeout -> provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from polyteam.providers.base import Completion, Endpoint


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


@dataclass(frozen=True)
class Answer:
    completion: Completion
    llm: str  # the LLM that finally answered (after any fallback)
    endpoint: Endpoint
    attempts: int
    latency_s: float


class Meter(Protocol):
    """Budget and ledger, as the gateway sees them (implemented in `polyteam.cost`)."""

    def reserve(self, endpoint: Endpoint, prompt_tokens: int, max_tokens: int) -> float:
        """Reserve this attempt's worst-case cost; raise BudgetExceededError if it could cross the budget."""
        ...

    def record(self, record: AttemptRecord, reserved: float) -> None:
        """Release the reservation, price the attempt and append its ledger line."""
        ...
