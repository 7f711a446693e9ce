"""The Team: hires roles, wires them to the environment, runs them concurrently until idle.

Owns a run's life: the project folder (named from the requirement first, renamed to the PRD's
project name once it is known), the gateway and its cost meter, scheduling each role's reaction
as a task the moment a message it watches is published, the end of the run (idle, the round
limit, a budget stop or a failure; Ctrl-C saves the state as "interrupted" and re-raises), the
checkpoint's final status and the run's summary. Python API:

    project_path, summary = Team.standard(settings).run("a CLI todo app", workdir=Path("workspace"))
    project_path, summary = await Team.standard(settings).arun(...)   # from async code
    project_path, summary = await Team.standard(settings).aresume(project_path, budget=2.0)

`summary.status` is "done", "budget" or "failed"; the call does not raise for those.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from polyteam import telemetry
from polyteam.team.context import ActionRunner, EventSink, RunContext, RunStopped
from polyteam.team.environment import Environment
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
    elapsed_s: float = 0.0
    calls_by_llm: dict[str, int] = field(default_factory=dict)
    tokens_by_llm: dict[str, tuple[int, int]] = field(default_factory=dict)
    cost_usd: float | None = None
    budget_usd: float | None = None
    stats: dict[str, int] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cached: int = 0  # actions answered from the checkpoint (a resumed run)
    resumed: bool = False
    #: per-LLM quality signals (polyteam.quality.assess): files compiling, reviews, degraded, ...
    quality: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "done"


class _ProjectMeter:
    """The gateway's Meter for a project whose folder may move once (when the PRD names it).

    Forwards explicitly to a `CostMeter` on the current folder; `relocate` opens one on the new
    folder, which reads the moved ledger back, so spend and budget carry over.
    """

    def __init__(self, factory: Callable[[Path], Any], project_dir: Path) -> None:
        self._factory = factory
        self.inner = factory(project_dir)

    def reserve(self, endpoint: Any, prompt_tokens: int, max_tokens: int) -> float:
        return self.inner.reserve(endpoint, prompt_tokens, max_tokens)

    def record(self, record: Any, reserved: float) -> None:
        self.inner.record(record, reserved)

    def quote(self, endpoint: Any) -> Any:  # the price of a chat span (polyteam.attempts)
        return self.inner.quote(endpoint)

    def relocate(self, project_dir: Path) -> None:
        self.inner = self._factory(project_dir)

    @property
    def spent_usd(self) -> float | None:
        return getattr(self.inner, "spent_usd", None)


def _default_runner() -> ActionRunner:
    from polyteam.actions.structured import run_action

    return run_action


class Team:
    def __init__(
        self,
        settings: Any,
        roles: list[Role] | None = None,
        *,
        gateway_factory: Callable[[Any], Any] | None = None,
        meter_factory: Callable[[Path, float | None], Any] | None = None,
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
    def standard(cls, settings: Any, **kwargs: Any) -> Team:
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

        Raises:
            PolyteamError: the project folder cannot be created.
            asyncio.CancelledError: the run was interrupted (state saved as "interrupted").
        """
        workdir = Path(workdir).absolute()
        # named from the requirement until the PRD names the project; never over an existing folder
        root = create_project_dir(workdir, requirement_slug(requirement))
        state = RunState(requirement=requirement)
        state.settings = {
            "review_k": self._review_k(review_k),
            "config_dir": str(getattr(self.settings, "config_dir", None) or "") or None,
            "max_rounds": self.max_rounds,
        }
        ws = Workspace(root)
        await ws.awrite_text("docs/requirement.txt", requirement.rstrip("\n") + "\n")
        await state.asave(ws)
        return await self._execute(
            ws, state, workdir=workdir, overwrite=overwrite, budget=budget, on_event=on_event
        )

    async def aresume(
        self,
        project_dir: Path,
        *,
        review_k: int | None = None,
        budget: float | None = None,
        on_event: EventSink | None = None,
    ) -> tuple[Path, RunSummary]:
        """Continue the run saved in `project_dir`; nothing in its checkpoint is requested again.

        Raises:
            PolyteamError: no readable run state in `project_dir`.
            asyncio.CancelledError: the run was interrupted (state saved as "interrupted").
        """
        ws = Workspace(Path(project_dir).absolute())
        state = RunState.load(ws)
        if review_k is not None:
            state.settings["review_k"] = self._review_k(review_k)
        state.error = ""
        return await self._execute(
            ws, state, workdir=None, overwrite=False, budget=budget, on_event=on_event, resumed=True
        )

    def _review_k(self, review_k: int | None) -> int:
        if review_k is None:
            review_k = getattr(self.settings, "code_review_k", 1)
        return max(0, int(review_k if review_k is not None else 1))

    async def _execute(
        self,
        ws: Workspace,
        state: RunState,
        *,
        workdir: Path | None,
        overwrite: bool,
        budget: float | None,
        on_event: EventSink | None,
        resumed: bool = False,
    ) -> tuple[Path, RunSummary]:
        self._workspace = ws
        if budget is None:
            budget = getattr(self.settings, "max_budget", None)
        meter = _ProjectMeter(partial(self._make_meter, budget=budget), ws.root)
        gateway = self._make_gateway(meter if meter.inner is not None else None)
        ctx = RunContext(
            env=Environment(),
            workspace=ws,
            state=state,
            gateway=gateway,
            runner=self._runner or _default_runner(),
            route_llm=self._route_llm,
            review_k=int(state.settings.get("review_k", 1)),
            on_event=on_event,
            workdir=workdir,
            overwrite=overwrite,
            may_rename=workdir is not None,
            meter=meter,
        )
        state.status = "running"
        await ctx.asave()
        try:
            limited = await telemetry.in_workflow(
                self._drive(ctx, state.requirement), project=lambda: ws.root, resumed=resumed,
                calls_dir=(lambda: ws.root / STATE_DIR / "calls") if self.capture else None,
            )  # fmt: skip
        except (asyncio.CancelledError, KeyboardInterrupt):
            state.status = "interrupted"
            ctx.save()  # blocking on purpose: the loop is being torn down; final, so files are durable
            raise
        finally:
            aclose = getattr(gateway, "aclose", None)
            if aclose is not None:
                await aclose()
        if ctx.stop is not None:
            state.status = "budget" if ctx.stop.status == "budget" else "failed"
            state.error = ctx.stop.message
        elif limited:
            state.status = "failed"
            state.error = f"round limit of {self.max_rounds} reached before the team was idle"
        else:
            state.status = "done"
        await ctx.asave(final=True)  # the project's files are made durable before this checkpoint
        return ws.root, self._summary(ctx, meter, budget, resumed)

    def _make_meter(self, project_dir: Path, budget: float | None) -> Any:
        if self._meter_factory is not None:
            return self._meter_factory(project_dir, budget)
        from polyteam.cost import CostMeter

        default = getattr(self.settings.router, "default", None)
        return CostMeter(project_dir, self.settings, default, budget)

    def _make_gateway(self, meter: Any) -> Any:
        if self._gateway_factory is not None:
            return self._gateway_factory(meter)
        from polyteam.gateway import Gateway

        return Gateway(self.settings.router, meter=meter)

    def _route_llm(self, role: str, action: str) -> str:
        try:
            return self.settings.router.route(role, action).llm
        except Exception:  # display only: a router that cannot say must not stop the run
            return ""

    async def _drive(self, ctx: RunContext, requirement: str) -> bool:
        """Publish the requirement and run reactions until idle; True when the round limit cut it short."""
        pending: set[asyncio.Task[None]] = set()
        rounds = 0
        limited = False

        def schedule(role: Role, message: TeamMessage) -> None:
            nonlocal rounds, limited
            if ctx.stopping:
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
                        ctx.request_stop("failed", exc, task.get_name().split("<-")[0])
        except BaseException:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            raise
        return limited

    async def _react(self, role: Role, message: TeamMessage, ctx: RunContext) -> None:
        ctx.emit("role", role.name, detail="working")
        try:
            await telemetry.in_agent(role.name, message.cause_by, role.react(message, ctx))
        except RunStopped:
            ctx.emit("role", role.name, detail="stopped")
            raise
        except asyncio.CancelledError:
            ctx.emit("role", role.name, detail="interrupted")
            raise
        except Exception:
            ctx.emit("role", role.name, detail="failed")
            raise
        ctx.emit("role", role.name, detail="done")

    def _summary(
        self, ctx: RunContext, meter: _ProjectMeter, budget: float | None, resumed: bool
    ) -> RunSummary:
        state = ctx.state
        calls: dict[str, int] = {}
        tokens: dict[str, tuple[int, int]] = {}
        for usage in state.usage.values():
            llm = str(usage.get("llm") or "?")
            calls[llm] = calls.get(llm, 0) + int(usage.get("calls") or 0)
            i, o = tokens.get(llm, (0, 0))
            tokens[llm] = (i + int(usage.get("input_tokens") or 0), o + int(usage.get("output_tokens") or 0))
        return RunSummary(
            project_path=ctx.workspace.root,
            status=state.status,
            error=state.error,
            elapsed_s=state.elapsed_s,
            calls_by_llm=calls,
            tokens_by_llm=tokens,
            cost_usd=meter.spent_usd,
            budget_usd=budget,
            stats=dict(state.stats),
            written=list(ctx.written),
            skipped=list(ctx.skipped),
            notes=list(ctx.notes),
            cached=ctx.cached,
            resumed=resumed,
            quality=_quality(state, ctx.workspace.root),
        )


def _quality(state: RunState, root: Path) -> dict[str, Any]:
    """The run's quality signals (the weak helper's hook; polyteam.quality owns them)."""
    from polyteam.quality import assess

    return assess(state.done, state.usage, root)
