"""The checkpoint a role works against: replay a saved output, record a new one, save the state.

Owns the rule that an action whose key is in the saved state is answered from it, never requested
again (`replay`), and that every completed action is recorded and saved before anything else
happens (`record`; on disk before the next request leaves, `flushed`); the elapsed time of this
session and of the whole run. Registered secrets are masked in every output before it is recorded
or handed on, so no file, prompt or state holds one.
The state's shape is `team/state.py`'s; the durable write is `polyteam.workspace`'s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from polyteam.redact import has_registered_secrets, redact_secrets_obj
from polyteam.team.state import RunState
from polyteam.workspace import Workspace

_COUNTERS = ("repairs", "reasks", "fallbacks", "calls", "gate_failures", "degraded")


def mask_output(output: Any) -> Any:
    """`output` (a pydantic model) with every registered secret masked (the same object if none)."""
    if not has_registered_secrets() or not isinstance(output, BaseModel):
        return output
    dumped = output.model_dump(mode="json")
    masked = redact_secrets_obj(dumped)
    return output if masked == dumped else type(output).model_validate(masked)


@dataclass
class Checkpoint:
    state: RunState
    workspace: Workspace
    cached: int = 0  # actions answered from the checkpoint in this session
    _base_elapsed: float = 0.0
    _t0: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._base_elapsed = self.state.elapsed_s

    @property
    def session_s(self) -> float:
        """Wall time of this session (a resumed run's earlier sessions are in `state.elapsed_s`)."""
        return time.monotonic() - self._t0

    def is_done(self, key: str) -> bool:
        return key in self.state.done

    def llm_of(self, key: str) -> str:
        return str(self.state.usage.get(key, {}).get("llm", ""))

    def replay(self, key: str, output_model: type[BaseModel]) -> Any | None:
        """The saved output for `key`, or None (not saved, or no longer valid: then it is asked again)."""
        saved = self.state.done.get(key)
        if saved is None:
            return None
        try:
            output = mask_output(output_model.model_validate(saved))
        except (ValidationError, ValueError, RecursionError):  # a hand-edited or older state
            self.state.done.pop(key, None)
            return None
        self.cached += 1
        return output

    def record(self, key: str, role: str, action: str, result: Any, output: BaseModel) -> dict[str, Any]:
        """Save `output` (of `result`, an ActionResult) under `key` and checkpoint; returns its usage.

        The checkpoint's snapshot is taken here; it reaches the disk with the next file written
        (the action's own artifact, as a rule) or in one background write (`save_soon`).
        """
        stats = self.state.stats
        for name in _COUNTERS:
            stats[name] = stats.get(name, 0) + int(getattr(result, name, 0) or 0)
        usage = {
            "llm": result.llm,
            "calls": int(getattr(result, "calls", 1) or 1),
            "input_tokens": int(result.input_tokens or 0),
            "output_tokens": int(result.output_tokens or 0),
        }
        entry = {
            "role": role,
            "action": action,
            **usage,
            # quality signals per LLM (polyteam.quality): the weak helper's hook
            "degraded": bool(getattr(result, "degraded", False)),
            "by_llm": dict(getattr(result, "by_llm", None) or {}),
        }
        self.state.record_done(key, output.model_dump(mode="json"), entry)
        self.save_soon()
        return usage

    async def save(self, *, final: bool = False) -> None:
        """Checkpoint and wait until it is on disk, without blocking the event loop; `final` first
        makes the written files durable."""
        await self.workspace.asave_state(self._current(), final=final)

    def save_soon(self) -> None:
        """Checkpoint without waiting: the state is serialised once before the next write takes it
        (however many saves came before) and written soon (`flushed` waits)."""
        self.workspace.save_state_soon(self._current)

    def _current(self) -> bytes:
        self.state.elapsed_s = self._base_elapsed + self.session_s
        return self.state.to_bytes()

    async def flushed(self) -> None:
        """Wait until every checkpoint taken so far is on disk (at once when none is on its way)."""
        await self.workspace.aflush()

    def save_now(self) -> None:
        """Checkpoint now, blocking and final (the interrupt path, where nothing else may run)."""
        self.workspace.save_state(self._current())
