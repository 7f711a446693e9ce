"""What the team calls to "ask the LLM for Role R, Action A".

STUB: the providers helper owns this module. Contract used by the team and cost code:

    gateway = Gateway(router, meter=meter, sleep=asyncio.sleep)
    answer = await gateway.ask(role, action, messages, options, on_delta=None)
    await gateway.aclose()
"""

from __future__ import annotations

from dataclasses import dataclass

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
    endpoint: Endpoint | None = None  # for pricing; not written to the ledger


@dataclass(frozen=True)
class Answer:
    completion: Completion
    llm: str  # the LLM that finally answered (after any fallback)
    endpoint: Endpoint
    attempts: int
    latency_s: float
