"""The run's checkpoint: what is done (each action's output, by key), counters, status, and the
hash of every file polyteam wrote.

Owns the shape of `.polyteam/state.json` (team_contract.md), its one version check and its
validation on load (a wrong-typed field is one line naming the key, never a traceback); the
atomic, durable write itself (off the event loop with `asave`) is `polyteam.workspace`'s.
A key in `done` is never requested again: a resumed run takes its output from here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from polyteam.config.schema import MAX_REVIEW_K
from polyteam.errors import PolyteamError
from polyteam.redact import redact_obj, redact_secrets_obj
from polyteam.workspace import Workspace, compact_json

Status = Literal["running", "done", "budget", "interrupted", "failed"]
STATE_VERSION = 1


class _Usage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str = ""
    action: str = ""
    llm: str = ""
    calls: int = Field(default=0, ge=0)
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)


class _Settings(BaseModel):
    model_config = ConfigDict(extra="allow")
    review_k: int = Field(default=1, ge=0, le=MAX_REVIEW_K)
    config_dir: str | None = None
    max_rounds: int = Field(default=20, ge=1)
    #: the cap the run started with (issue 11): a resume keeps it unless given another
    budget_usd: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class _StateFile(BaseModel):
    """What a loaded state.json must look like (other keys are kept for the helpers that add them)."""

    model_config = ConfigDict(extra="allow")
    version: Literal[1]
    requirement: str
    project_name: str = ""
    done: dict[str, dict[str, Any]] = {}
    stats: dict[str, int] = {}
    status: Status = "running"
    settings: _Settings = _Settings()
    usage: dict[str, _Usage] = {}
    error: str = ""
    elapsed_s: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    started: float = Field(default=0.0, allow_inf_nan=False)
    files: dict[str, list[str]] = {}


def _first_issue(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"
    return f"key {where[:80]!r}: {err.get('msg', 'invalid')}"


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
    elapsed_s: float = 0.0  # wall time of all sessions of this run, this one included
    started: float = field(default_factory=time.time)
    #: per project file polyteam wrote: the hashes of the versions it wrote (newest last); a file
    #: whose hash is not here was changed by someone else and is never overwritten
    files: dict[str, list[str]] = field(default_factory=dict)
    #: `done` key -> (the entry, its JSON): what `to_bytes` reuses
    _serialised: dict[str, tuple[Any, str]] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        # `done` and `usage` are masked once, as they enter (`record_done`, `from_json`), not on every
        # checkpoint (issue 15: walking them again was a third of a run's Python calls). `done` holds
        # models' output: only registered secrets are masked there (the patterns of `redact` would
        # also mask code such as `password = "..."`); everything else fully.
        return {
            "done": self.done,
            "usage": self.usage,
            "files": self.files,
            **redact_obj(
                {
                    "version": STATE_VERSION,
                    "requirement": self.requirement,
                    "project_name": self.project_name,
                    "stats": self.stats,
                    "status": self.status,
                    "settings": self.settings,
                    "error": self.error,
                    "elapsed_s": round(self.elapsed_s, 3),
                    "started": self.started,
                }
            ),
        }

    def to_bytes(self) -> bytes:
        """`to_json` as one line of compact JSON; each `done` entry (a model's output, the bulk of the
        state) is serialised once and reused by every later checkpoint (issue 15)."""
        rest = self.to_json()
        done = rest.pop("done")
        parts = []
        for key, value in done.items():
            cached = self._serialised.get(key)
            if cached is None or cached[0] is not value:  # new, or replaced since
                cached = self._serialised[key] = (value, compact_json(key) + ":" + compact_json(value))
            parts.append(cached[1])
        if len(self._serialised) > len(done):
            self._serialised = {k: v for k, v in self._serialised.items() if k in done}
        return ('{"done":{' + ",".join(parts) + "}," + compact_json(rest)[1:] + "\n").encode("utf-8")

    def record_done(self, key: str, output: dict[str, Any], usage: dict[str, Any]) -> None:
        """Keep an action's output (its JSON form) and usage under `key`, masked here, once."""
        self.done[key] = redact_secrets_obj(output)
        self.usage[key] = redact_obj(usage)

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "state.json") -> RunState:
        """A state from its JSON form, validated.

        Raises:
            PolyteamError: an unknown version or a wrong-typed field (one line naming the key).
        """
        if data.get("version") != STATE_VERSION:
            raise PolyteamError(f"{where}: unknown run state version; start a new run")
        try:
            checked = _StateFile.model_validate(data)
        except ValidationError as exc:
            raise PolyteamError(f"{where}: {_first_issue(exc)}; fix the key or start a new run") from None
        except RecursionError:
            raise PolyteamError(f"{where}: nested too deep; start a new run") from None
        state = cls(requirement=checked.requirement)
        state.project_name = checked.project_name
        state.done = redact_secrets_obj(dict(checked.done))
        state.stats.update(checked.stats)
        state.status = checked.status
        state.settings = checked.settings.model_dump()
        state.usage = redact_obj({k: v.model_dump() for k, v in checked.usage.items()})
        state.error = checked.error
        state.elapsed_s = checked.elapsed_s
        state.started = checked.started or time.time()
        state.files = {k: [str(h) for h in v] for k, v in checked.files.items()}
        return state

    def save(self, workspace: Workspace) -> None:
        """Checkpoint now, blocking (and final: the project's files are made durable first)."""
        workspace.save_state(self.to_bytes())

    async def asave(self, workspace: Workspace, *, final: bool = False) -> None:
        """Checkpoint without blocking the event loop (the write runs in a worker thread)."""
        await workspace.asave_state(self.to_bytes(), final=final)

    @classmethod
    def load(cls, workspace: Workspace) -> RunState:
        """Raises: PolyteamError (no state, unreadable, unknown version, a wrong-typed field)."""
        return cls.from_json(workspace.load_state(), str(workspace.state_path))
