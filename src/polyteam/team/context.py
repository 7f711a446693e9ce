"""What a role sees while it works: the environment, the project folder, and `act`, the one way to run an action.

Owns the checkpoint rule (an action whose key is in the saved state is answered from it, never
requested again; every completed action is saved atomically before anything else happens), the
graceful stop (after a budget stop or a failure no new action starts, but actions already in
flight finish and are saved, so nothing paid for is lost), counters for the summary, and safe
artifact writes that report and skip an unsafe file name. Running the action against the gateway
(parsing, re-asks, fallback) is `polyteam.actions.structured.run_action`'s job.
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from polyteam import telemetry
from polyteam.errors import BudgetExceededError, PolyteamError, UnsafePathError
from polyteam.redact import redact
from polyteam.team.environment import Environment
from polyteam.team.message import RunEvent, TeamMessage
from polyteam.team.state import RunState
from polyteam.workspace import STATE_DIR, Workspace, atomic_write_bytes, move_project_dir

#: run_action(gateway, role, action, inputs) -> ActionResult (polyteam.actions.structured)
ActionRunner = Callable[[Any, str, Any, dict[str, Any]], Awaitable[Any]]
EventSink = Callable[[RunEvent], None]


class RunStopped(Exception):
    """Raised inside a role when the run is stopping; the reason is on the context, not here."""


class Relocatable(Protocol):
    def relocate(self, project_dir: Path) -> None: ...


@dataclass
class StopReason:
    status: str  # "budget" | "failed"
    message: str
    error: BaseException | None = None


@dataclass
class RunContext:
    env: Environment
    workspace: Workspace
    state: RunState
    gateway: Any
    runner: ActionRunner
    route_llm: Callable[[str, str], str]  # (role, action) -> the LLM name the route starts at
    review_k: int = 1
    on_event: EventSink | None = None
    workdir: Path | None = None  # where a fresh run's folder may be renamed to the PRD's name
    overwrite: bool = False
    may_rename: bool = False
    meter: Relocatable | None = None
    stop: StopReason | None = None
    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cached: int = 0
    _base_elapsed: float = 0.0
    _t0: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._base_elapsed = self.state.elapsed_s

    # -- reporting -------------------------------------------------------------------------------
    def emit(self, kind: str, role: str, **fields: Any) -> None:
        if self.on_event is not None:
            self.on_event(RunEvent(kind=kind, role=role, **fields))  # type: ignore[arg-type]

    def note(self, role: str, text: str) -> None:
        self.notes.append(text)
        self.emit("note", role, detail=text)

    @property
    def stopping(self) -> bool:
        return self.stop is not None

    def request_stop(self, status: str, exc: BaseException, role: str = "", action: str = "") -> None:
        """Stop the run gracefully: the first reason wins; a failure outranks a budget stop."""
        if isinstance(exc, PolyteamError):
            text = redact(str(exc))
        else:
            text = redact(f"{type(exc).__name__}: {exc}")
            self._log_traceback(exc)
        if action:
            text = f"{action}: {text}"
        if self.stop is None or (self.stop.status == "budget" and status == "failed"):
            self.stop = StopReason(status, text.splitlines()[0] if text else status, exc)
        self.emit("error" if status == "failed" else "note", role, action=action, detail=text)

    def _log_traceback(self, exc: BaseException) -> None:
        # an unexpected error is one line on screen; its traceback is kept for a bug report
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        path = self.workspace.root / STATE_DIR / "error.log"
        with contextlib.suppress(OSError):  # a full disk must not hide the error itself
            atomic_write_bytes(path, redact(text).encode("utf-8"))

    # -- the checkpoint --------------------------------------------------------------------------
    def save(self) -> None:
        """Checkpoint now, blocking (a final one: the interrupt path, where nothing else may run)."""
        self.state.elapsed_s = self._base_elapsed + (time.monotonic() - self._t0)
        self.state.save(self.workspace)

    async def asave(self, *, final: bool = False) -> None:
        """Checkpoint without blocking the event loop; `final` first makes the written files durable."""
        self.state.elapsed_s = self._base_elapsed + (time.monotonic() - self._t0)
        await self.state.asave(self.workspace, final=final)

    def is_done(self, key: str) -> bool:
        return key in self.state.done

    async def act(
        self, role: str, action: Any, key: str, inputs: dict[str, Any], *, optional: bool = False
    ) -> Any:
        """The output of `action` for `key`: from the checkpoint if saved, else from its LLM (then saved).

        `optional`: a failure other than the budget is noted and None returned (a code review
        that cannot be had leaves the file as written) instead of stopping the run.

        Raises:
            RunStopped: the run is stopping (this action failed, hit the budget, or another did).
        """
        saved = self.state.done.get(key)
        if saved is not None:
            try:
                output = action.output_model.model_validate(saved)
            except ValueError:  # a hand-edited or older state: ask again rather than fail
                self.state.done.pop(key, None)
            else:
                self.cached += 1
                self.emit(
                    "cached",
                    role,
                    action=action.name,
                    key=key,
                    llm=self.state.usage.get(key, {}).get("llm", ""),
                )
                return output
        if self.stopping:
            raise RunStopped
        self.emit("start", role, action=action.name, key=key, llm=self.route_llm(role, action.name))
        try:
            result = await telemetry.in_action(
                role, action.name, key, self.runner(self.gateway, role, action, inputs)
            )
        except BudgetExceededError as exc:
            self.request_stop("budget", exc, role, key)
            raise RunStopped from exc
        except PolyteamError as exc:
            if optional:
                self.note(role, redact(f"{key}: skipped: {exc}").splitlines()[0])
                return None
            self.request_stop("failed", exc, role, key)
            raise RunStopped from exc
        except Exception as exc:  # a bug in one action must not lose the others' saved work
            self.request_stop("failed", exc, role, key)
            raise RunStopped from exc
        output = result.output
        self.state.done[key] = output.model_dump(mode="json")
        stats = self.state.stats
        for name in ("repairs", "reasks", "fallbacks", "calls", "gate_failures", "degraded"):
            stats[name] = stats.get(name, 0) + int(getattr(result, name, 0) or 0)
        self.state.usage[key] = {
            "role": role,
            "action": action.name,
            "llm": result.llm,
            "calls": int(getattr(result, "calls", 1) or 1),
            "input_tokens": int(result.input_tokens or 0),
            "output_tokens": int(result.output_tokens or 0),
            # quality signals per LLM (polyteam.quality): the weak helper's hook
            "degraded": bool(getattr(result, "degraded", False)),
            "by_llm": dict(getattr(result, "by_llm", None) or {}),
        }
        if getattr(result, "degraded", False):
            self.note(role, f"{key}: " + "; ".join(f for f in result.fixes if f.startswith("degraded")))
        await self.asave()
        self.emit(
            "end",
            role,
            action=action.name,
            key=key,
            llm=result.llm,
            input_tokens=int(result.input_tokens or 0),
            output_tokens=int(result.output_tokens or 0),
            calls=int(getattr(result, "calls", 1) or 1),
        )
        return output

    # -- artifacts -------------------------------------------------------------------------------
    def write(self, role: str, name: str, text: str) -> bool:
        """Write a project file atomically and durably, blocking; an unsafe name is reported and
        skipped (returns False). A running role uses `awrite`."""
        try:
            self.workspace.write_text(name, text)
        except UnsafePathError as exc:
            return self._skip(role, name, exc)
        return self._wrote(role, name)

    async def awrite(self, role: str, name: str, text: str) -> bool:
        """`write` without blocking the event loop (made durable by the run's final checkpoint)."""
        try:
            await self.workspace.awrite_text(name, text)
        except UnsafePathError as exc:
            return self._skip(role, name, exc)
        return self._wrote(role, name)

    def write_json(self, role: str, name: str, value: Any) -> bool:
        return self.write(role, name, json.dumps(value, indent=2, ensure_ascii=False) + "\n")

    async def awrite_json(self, role: str, name: str, value: Any) -> bool:
        return await self.awrite(role, name, json.dumps(value, indent=2, ensure_ascii=False) + "\n")

    def _skip(self, role: str, name: str, exc: UnsafePathError) -> bool:
        reason = str(exc)
        self.skipped.append((name, reason))
        self.emit("skipped", role, detail=reason)
        return False

    def _wrote(self, role: str, name: str) -> bool:
        if name not in self.written:
            self.written.append(name)
        self.emit("written", role, detail=name)
        return True

    def publish(self, role: str, cause_by: str, content: Any, key: str = "") -> None:
        self.env.publish(TeamMessage(cause_by=cause_by, sent_from=role, content=content, key=key or cause_by))

    def name_project(self, role: str, name: str) -> None:
        """Give a fresh run's folder the PRD's project name (never over an existing folder)."""
        self._rename_project(role, name)
        self.save()

    async def aname_project(self, role: str, name: str) -> None:
        """`name_project` with the checkpoint off the event loop."""
        self._rename_project(role, name)
        await self.asave()

    def _rename_project(self, role: str, name: str) -> None:
        self.state.project_name = name
        if self.may_rename and self.workdir is not None:
            old = self.workspace.root
            new = move_project_dir(old, self.workdir, name, overwrite=self.overwrite)
            if new != old:
                self.workspace.root = new
                if self.meter is not None:
                    self.meter.relocate(new)
                self.note(role, f"project folder: {new}")
            self.may_rename = False
