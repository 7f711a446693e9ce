"""The run's checkpoint: what is done (each action's output, by key), counters and status.

Owns the shape of `.polyteam/state.json` (team_contract.md) and the rule that it is saved after
every completed action; the atomic, durable write itself (off the event loop with `asave`) is
`polyteam.workspace`'s. A key in `done` is
never requested again: a resumed run takes its output from here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from polyteam.redact import redact_obj
from polyteam.workspace import Workspace

Status = Literal["running", "done", "budget", "interrupted", "failed"]
STATE_VERSION = 1


@dataclass
class RunState:
    requirement: str
    project_name: str = ""
    done: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, int] = field(
        default_factory=lambda: {"repairs": 0, "reasks": 0, "fallbacks": 0, "calls": 0}
    )
    status: Status = "running"
    settings: dict[str, Any] = field(default_factory=dict)
    #: per finished action: the LLM that answered it and its tokens (for the summary after a resume)
    usage: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str = ""
    elapsed_s: float = 0.0  # wall time of earlier sessions of this run
    started: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        # `done` is kept verbatim: it is the models' output, already written as the project's files,
        # and a resume replays it into those files, so masking secret-looking code (`api_key = ...`)
        # here would corrupt them. Our keys never reach a model's reply; everything else is redacted.
        return {
            "done": self.done,
            **redact_obj(
                {
                    "version": STATE_VERSION,
                    "requirement": self.requirement,
                    "project_name": self.project_name,
                    "stats": self.stats,
                    "status": self.status,
                    "settings": self.settings,
                    "usage": self.usage,
                    "error": self.error,
                    "elapsed_s": round(self.elapsed_s, 3),
                    "started": self.started,
                }
            ),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunState:
        state = cls(requirement=str(data.get("requirement") or ""))
        state.project_name = str(data.get("project_name") or "")
        state.done = dict(data.get("done") or {})
        state.stats.update({k: int(v) for k, v in (data.get("stats") or {}).items() if isinstance(v, int)})
        state.status = data.get("status") or "running"
        state.settings = dict(data.get("settings") or {})
        state.usage = dict(data.get("usage") or {})
        state.error = str(data.get("error") or "")
        state.elapsed_s = float(data.get("elapsed_s") or 0.0)
        state.started = float(data.get("started") or time.time())
        return state

    def save(self, workspace: Workspace) -> None:
        """Checkpoint now, blocking (and final: the project's files are made durable first)."""
        workspace.save_state(self.to_json())

    async def asave(self, workspace: Workspace, *, final: bool = False) -> None:
        """Checkpoint without blocking the event loop (the write runs in a worker thread)."""
        await workspace.asave_state(self.to_json(), final=final)

    @classmethod
    def load(cls, workspace: Workspace) -> RunState:
        """Raises: PolyteamError (no state, unreadable, unknown version)."""
        return cls.from_json(workspace.load_state())
