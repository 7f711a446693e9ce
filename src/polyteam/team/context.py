"""What a role sees while it works, and `act`, the one way to run an action.

A `RunContext` bundles the pieces a role needs: the environment (`env`: publish and read
messages), the `checkpoint` (replay, is_done, save), the `artifacts` (write files: written,
skipped, kept), the `stop` signal and the `events` sink, plus the run's review rounds. `act` ties
them together: a saved output is replayed, never requested again; else, unless the run is
stopping, the action runs against the gateway and its output is recorded before anything else
happens. Running the action (parsing, re-asks, fallback) is `polyteam.actions.structured`'s job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from polyteam import telemetry
from polyteam.errors import BudgetExceededError, PolyteamError
from polyteam.redact import redact
from polyteam.team.artifacts import Artifacts
from polyteam.team.checkpoint import Checkpoint, mask_output
from polyteam.team.environment import Environment
from polyteam.team.events import Events, EventSink, RunStopped, StopSignal
from polyteam.team.message import TeamMessage

if TYPE_CHECKING:
    from polyteam.actions.base import Action, ActionResult
    from polyteam.gateway import Gateway

__all__ = ["ActionRunner", "EventSink", "RunContext", "RunStopped"]

#: run_action(gateway, role, action, inputs) -> ActionResult (polyteam.actions.structured)
ActionRunner = Callable[["Gateway", str, "Action", dict[str, Any]], Awaitable["ActionResult"]]


@dataclass
class RunContext:
    env: Environment
    checkpoint: Checkpoint
    artifacts: Artifacts
    stop: StopSignal
    events: Events
    gateway: Gateway
    runner: ActionRunner
    route_llm: Callable[[str, str], str]  # (role, action) -> the LLM name the route starts at
    review_k: int = 1

    async def act(
        self, role: str, action: Action, key: str, inputs: dict[str, Any], *, optional: bool = False
    ) -> Any:
        """The output of `action` for `key`: from the checkpoint if saved, else from its LLM (then saved).

        `optional`: a failure other than the budget is noted and None returned (a code review
        that cannot be had leaves the file as written) instead of stopping the run.

        Raises:
            RunStopped: the run is stopping (this action failed, hit the budget, or another did).
        """
        saved = self.checkpoint.replay(key, action.output_model)
        if saved is not None:
            self.events.emit("cached", role, action=action.name, key=key, llm=self.checkpoint.llm_of(key))
            return saved
        if self.stop.stopping:
            raise RunStopped
        self.events.emit("start", role, action=action.name, key=key, llm=self.route_llm(role, action.name))
        await self.checkpoint.flushed()  # every answer so far is saved before another request leaves
        try:
            result = await telemetry.in_action(
                role, action.name, key, self.runner(self.gateway, role, action, inputs)
            )
        except BudgetExceededError as exc:
            self.stop.request("budget", exc, role, key)
            raise RunStopped from exc
        except Exception as exc:  # a bug in one action must not lose the others' saved work
            if optional and isinstance(exc, PolyteamError):
                self.events.note(role, redact(f"{key}: skipped: {exc}").splitlines()[0])
                return None
            self.stop.request("failed", exc, role, key)
            raise RunStopped from exc
        output = mask_output(result.output)  # no registered secret goes on into files or prompts
        if result.degraded:
            self.events.note(
                role, f"{key}: " + "; ".join(f for f in result.fixes if f.startswith("degraded"))
            )
        usage = self.checkpoint.record(key, role, action.name, result, output)
        self.events.emit("end", role, action=action.name, key=key, **usage)
        return output

    def publish(self, role: str, cause_by: str, content: Any, key: str = "") -> None:
        self.env.publish(TeamMessage(cause_by=cause_by, sent_from=role, content=content, key=key or cause_by))
