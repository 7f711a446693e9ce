"""The Team: hires roles, wires them to the environment, runs them concurrently until idle.

Owns a run's life: the project folder (named once, from the requirement, and never moved: the
PRD's project name is recorded, not used as a folder), the gateway and its cost meter, the run
context's pieces (`team/context.py`), scheduling each role's reaction
as a task the moment a message it watches is published, the end of the run (idle, the round
limit, a budget stop or a failure; Ctrl-C saves the state as "interrupted" and re-raises), the
checkpoint's final status and the run's summary. Python API:

    project_path, summary = Team.standard(settings).run("a CLI todo app", workdir=Path("workspace"))
    project_path, summary = await Team.standard(settings).arun(...)   # from async code
    project_path, summary = await Team.standard(settings).aresume(project_path, budget=2.0)

`summary.status` is "done", "budget" or "failed"; the call does not raise for those. Resuming a
finished run does nothing ("already done") unless `redo=True`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from polyteam import telemetry
from polyteam.config.schema import MAX_REVIEW_K
from polyteam.errors import PolyteamError
from polyteam.team.artifacts import Artifacts
from polyteam.team.checkpoint import Checkpoint
from polyteam.team.context import ActionRunner, RunContext
from polyteam.team.environment import Environment
from polyteam.team.events import Events, EventSink, RunStopped, StopSignal
from polyteam.team.message import USER_REQUIREMENT, TeamMessage
from polyteam.team.role import Role
from polyteam.team.state import RunState
from polyteam.workspace import STATE_DIR, Workspace, create_project_dir, requirement_slug

DEFAULT_MAX_ROUNDS = 20


@dataclass
class RunSummary:
    """What a run did: where, how it ended, what it cost and which LLM served how many calls."""

    project_path: Path
    status: str
    error: str = ""
    elapsed_s: float = 0.0  # all sessions of this run
    session_s: float = 0.0  # this session only (equal to elapsed_s for a fresh run)
    calls_by_llm: dict[str, int] = field(default_factory=dict)
    tokens_by_llm: dict[str, tuple[int, int]] = field(default_factory=dict)
    cost_usd: float | None = None
    budget_usd: float | None = None
    stats: dict[str, int] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (a user's edited file, ours beside it)
    cached: int = 0  # actions answered from the checkpoint (a resumed run)
    resumed: bool = False
    already_done: bool = False  # a resume of a finished run: nothing was done
    #: per-LLM quality signals (polyteam.quality.assess): files compiling, reviews, degraded, ...
    quality: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "done"


if TYPE_CHECKING:
    from polyteam.calls import Meter
    from polyteam.config import Settings
    from polyteam.cost import CostMeter
    from polyteam.gateway import Gateway


def _default_runner() -> ActionRunner:
    from polyteam.actions.structured import run_action

    return run_action


class Team:
    def __init__(
        self,
        settings: Settings,
        roles: list[Role] | None = None,
        *,
        gateway_factory: Callable[[Meter | None], Gateway] | None = None,
        meter_factory: Callable[[Path, float | None], CostMeter | None] | None = None,
        runner: ActionRunner | None = None,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
        capture: bool = False,
    ) -> None:
        """`gateway_factory(meter)` and `meter_factory(project_dir, budget)` replace the real
        gateway and cost meter (tests); `runner` replaces `run_action`."""
        self.settings = settings
        self.roles: list[Role] = list(roles or [])
        self._gateway_factory = gateway_factory
        self._meter_factory = meter_factory
        self._runner = runner
        self.max_rounds = max_rounds
        self.capture = capture  # keep each prompt and reply in .polyteam/calls/ (polyteam.capture)
        self._workspace: Workspace | None = None

    @property
    def project_path(self) -> Path | None:
        """The folder of the current (or last) run, also while it runs and after an interrupt."""
        return self._workspace.root if self._workspace is not None else None

    @classmethod
    def standard(cls, settings: Settings, **kwargs: Any) -> Team:
        """The standard team of DESIGN §1: the roles of `polyteam.team.roles.STANDARD_ROLES`, in order."""
        from polyteam.team.roles import STANDARD_ROLES

        return cls(settings, [role() for role in STANDARD_ROLES], **kwargs)

    def hire(self, *roles: Role) -> Team:
        self.roles.extend(roles)
        return self

    # -- sync conveniences for scripts (the CLI calls the async ones under its one asyncio.run) ----
    def run(self, requirement: str, **kwargs: Any) -> tuple[Path, RunSummary]:
        """Run the team on `requirement` (see `arun`)."""
        return asyncio.run(self.arun(requirement, **kwargs))

    def resume(self, project_dir: Path, **kwargs: Any) -> tuple[Path, RunSummary]:
        return asyncio.run(self.aresume(project_dir, **kwargs))

    # -- runs ----------------------------------------------------------------------------------------
    async def arun(
        self,
        requirement: str,
        *,
        workdir: Path = Path("workspace"),
        overwrite: bool = False,
        review_k: int | None = None,
        budget: float | None = None,
        on_event: EventSink | None = None,
    ) -> tuple[Path, RunSummary]:
        """Run the team on `requirement`, writing a new project under `workdir`.

        The folder is named once, from the requirement, and never moved. `overwrite` replaces
        only a previous polyteam run of the same requirement in that folder, never another one.

        Raises:
            PolyteamError: the project folder cannot be created.
            asyncio.CancelledError: the run was interrupted (state saved as "interrupted").
        """
        workdir = Path(workdir).absolute()
        root = create_project_dir(
            workdir, requirement_slug(requirement), overwrite=overwrite, requirement=requirement
        )
        state = RunState(requirement=requirement)
        state.settings = {
            "review_k": self._review_k(review_k),
            "config_dir": str(self.settings.config_dir or "") or None,
            "max_rounds": self.max_rounds,
            # the cap this run started with: a resume keeps it unless given another (issue 11)
            "budget_usd": budget if budget is not None else getattr(self.settings, "max_budget", None),
        }
        ws = Workspace(root)
        self._workspace = ws
        await ws.awrite_text("docs/requirement.txt", requirement.rstrip("\n") + "\n")
        await state.asave(ws)
        return await self._execute(ws, state, budget=budget, on_event=on_event)

    async def aresume(
        self,
        project_dir: Path,
        *,
        review_k: int | None = None,
        budget: float | None = None,
        on_event: EventSink | None = None,
        redo: bool = False,
    ) -> tuple[Path, RunSummary]:
        """Continue the run saved in `project_dir`; nothing in its checkpoint is requested again.

        A finished run is left as it is ("already done") unless `redo`: then its files are
        written again from the checkpoint (a file changed since polyteam wrote it is kept, and the
        new version goes beside it).

        Raises:
            PolyteamError: no readable or valid run state in `project_dir`.
            asyncio.CancelledError: the run was interrupted (state saved as "interrupted").
        """
        ws = Workspace(Path(project_dir).absolute())
        state = RunState.load(ws)
        self._workspace = ws
        if state.status == "done" and not redo:
            return ws.root, self._already_done(ws, state, budget)
        if review_k is not None:
            state.settings["review_k"] = self._review_k(review_k)
        state.error = ""
        if budget is None:
            budget = state.settings.get("budget_usd")  # the run's own cap (validated on load)
        else:
            state.settings["budget_usd"] = budget  # a later resume keeps the new cap
        return await self._execute(ws, state, budget=budget, on_event=on_event, resumed=True)

    def _review_k(self, review_k: int | None) -> int:
        """The review rounds per file: `review_k`, else CODE_REVIEW_K, bounded to 0..MAX_REVIEW_K.

        Raises:
            PolyteamError: out of bounds (the CLI checks --review-k itself, with its own message).
        """
        if review_k is None:
            review_k = self.settings.code_review_k
        value = int(review_k if review_k is not None else 1)
        if not 0 <= value <= MAX_REVIEW_K:
            raise PolyteamError(
                f"code review rounds: {value} is out of range; use 0 (review off) to {MAX_REVIEW_K}"
            )
        return value

    def _context(
        self, ws: Workspace, state: RunState, gateway: Gateway, on_event: EventSink | None
    ) -> RunContext:
        events = Events(on_event)
        checkpoint = Checkpoint(state, ws)
        return RunContext(
            env=Environment(),
            checkpoint=checkpoint,
            artifacts=Artifacts(ws, checkpoint, events),
            stop=StopSignal(events, error_log=ws.root / STATE_DIR / "error.log"),
            events=events,
            gateway=gateway,
            runner=self._runner or _default_runner(),
            route_llm=self._route_llm,
            review_k=int(state.settings.get("review_k", 1)),
        )

    async def _execute(
        self,
        ws: Workspace,
        state: RunState,
        *,
        budget: float | None,
        on_event: EventSink | None,
        resumed: bool = False,
    ) -> tuple[Path, RunSummary]:
        if budget is None:
            budget = self.settings.max_budget
        meter = self._make_meter(ws.root, budget)
        gateway = self._make_gateway(meter)
        ctx = self._context(ws, state, gateway, on_event)
        state.status = "running"
        await ctx.checkpoint.save()
        try:
            limited = await telemetry.in_workflow(
                self._drive(ctx, state.requirement), project=lambda: ws.root, resumed=resumed,
                calls_dir=(lambda: ws.root / STATE_DIR / "calls") if self.capture else None,
            )  # fmt: skip
        except (asyncio.CancelledError, KeyboardInterrupt):
            state.status = "interrupted"
            ctx.checkpoint.save_now()  # blocking on purpose: the loop is being torn down
            raise
        finally:
            await gateway.aclose()
            if meter is not None:
                meter.close()
        reason = ctx.stop.reason
        if reason is not None:
            state.status = "budget" if reason.status == "budget" else "failed"
            state.error = reason.message
        elif limited:
            state.status = "failed"
            state.error = f"round limit of {self.max_rounds} reached before the team was idle"
        else:
            state.status = "done"
        await ctx.checkpoint.save(final=True)  # the project's files are made durable first
        return ws.root, self._summary(ctx, meter.spent_usd if meter is not None else None, budget, resumed)

    def _make_meter(self, project_dir: Path, budget: float | None) -> CostMeter | None:
        if self._meter_factory is not None:
            return self._meter_factory(project_dir, budget)
        from polyteam.cost import CostMeter

        return CostMeter(project_dir, self.settings, self.settings.router.default, budget)

    def _make_gateway(self, meter: Meter | None) -> Gateway:
        if self._gateway_factory is not None:
            return self._gateway_factory(meter)
        from polyteam.gateway import Gateway

        return Gateway(self.settings.router, meter=meter)

    def _route_llm(self, role: str, action: str) -> str:
        try:
            return str(self.settings.router.route(role, action).llm)
        except Exception:  # display only: a router that cannot say must not stop the run
            return ""

    async def _drive(self, ctx: RunContext, requirement: str) -> bool:
        """Publish the requirement and run reactions until idle; True when the round limit cut it short."""
        pending: set[asyncio.Task[None]] = set()
        rounds = 0
        limited = False

        def schedule(role: Role, message: TeamMessage) -> None:
            nonlocal rounds, limited
            if ctx.stop.stopping:
                return
            if rounds >= self.max_rounds:
                limited = True
                return
            rounds += 1
            task = asyncio.create_task(
                self._react(role, message, ctx), name=f"{role.name}<-{message.cause_by}"
            )
            pending.add(task)

        for role in self.roles:
            for action_type in role.watches:
                ctx.env.subscribe(action_type, partial(schedule, role))
        ctx.env.publish(TeamMessage(cause_by=USER_REQUIREMENT, sent_from="User", content=requirement))
        try:
            while pending:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                pending.difference_update(done)
                for task in done:
                    exc = task.exception()
                    if exc is not None and not isinstance(exc, RunStopped):
                        ctx.stop.request("failed", exc, task.get_name().split("<-")[0])
        except BaseException:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            raise
        return limited

    async def _react(self, role: Role, message: TeamMessage, ctx: RunContext) -> None:
        ctx.events.emit("role", role.name, detail="working")
        try:
            await telemetry.in_agent(role.name, message.cause_by, role.react(message, ctx))
        except RunStopped:
            ctx.events.emit("role", role.name, detail="stopped")
            raise
        except asyncio.CancelledError:
            ctx.events.emit("role", role.name, detail="interrupted")
            raise
        except Exception:
            ctx.events.emit("role", role.name, detail="failed")
            raise
        ctx.events.emit("role", role.name, detail="done")

    def _summary(
        self, ctx: RunContext, spent: float | None, budget: float | None, resumed: bool
    ) -> RunSummary:
        summary = _state_summary(ctx.checkpoint.workspace.root, ctx.checkpoint.state, spent, budget)
        summary.session_s = ctx.checkpoint.session_s
        summary.written = list(ctx.artifacts.written)
        summary.skipped = list(ctx.artifacts.skipped)
        summary.kept = list(ctx.artifacts.kept)
        summary.notes = list(ctx.events.notes)
        summary.cached = ctx.checkpoint.cached
        summary.resumed = resumed
        summary.quality = _quality(ctx.checkpoint.state, ctx.checkpoint.workspace.root)
        return summary

    def _already_done(self, ws: Workspace, state: RunState, budget: float | None) -> RunSummary:
        """The summary of a finished run that a resume left as it is (no gateway, no call, no write;
        its cost is the report's, from the ledger)."""
        summary = _state_summary(ws.root, state, None, budget)
        summary.resumed = summary.already_done = True
        summary.quality = _quality(state, ws.root)
        return summary


def _state_summary(root: Path, state: RunState, spent: float | None, budget: float | None) -> RunSummary:
    """The parts of a summary the saved state holds: status, time, calls and tokens per LLM."""
    calls: dict[str, int] = {}
    tokens: dict[str, tuple[int, int]] = {}
    for usage in state.usage.values():
        llm = str(usage.get("llm") or "?")
        calls[llm] = calls.get(llm, 0) + int(usage.get("calls") or 0)
        i, o = tokens.get(llm, (0, 0))
        tokens[llm] = (i + int(usage.get("input_tokens") or 0), o + int(usage.get("output_tokens") or 0))
    return RunSummary(
        project_path=root,
        status=state.status,
        error=state.error,
        elapsed_s=state.elapsed_s,
        calls_by_llm=calls,
        tokens_by_llm=tokens,
        cost_usd=spent,
        budget_usd=budget,
        stats=dict(state.stats),
    )


def _quality(state: RunState, root: Path) -> dict[str, Any]:
    """The run's quality signals (the weak helper's hook; polyteam.quality owns them)."""
    from polyteam.quality import assess

    return assess(state.done, state.usage, root)
