"""The Role base: which actions a role runs, what it watches, how it reacts.

A role names its actions and the causes it watches as classes (as MetaGPT's `set_actions` and
`_watch` do), so a misspelt one fails at import, not in the middle of a run. Its `name` is its
class name (DESIGN §1's spellings); the `cause_by` of what it publishes is derived from the output.

A role is stateless between runs: everything it must remember lives in the run state (through
`RunContext.act`) or in the environment's history, so a resumed run replays the same reactions and
takes every finished action from the checkpoint. Scheduling reactions is the Team's job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from polyteam.actions.base import Action
    from polyteam.team.context import RunContext
    from polyteam.team.message import Cause, TeamMessage


class Role:
    """Subclasses set `actions` and `watches` and implement `react`."""

    name: ClassVar[str]
    actions: ClassVar[tuple[type[Action], ...]]  # the Action classes it runs
    watches: ClassVar[tuple[Cause, ...]]  # the causes (Action classes, UserRequirement) that start it

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__

    async def react(self, message: TeamMessage, ctx: RunContext) -> None:
        """Handle one message: run actions through `ctx.act`, write artifacts, publish results.

        Raises:
            RunStopped: the run is stopping; the role just returns control.
        """
        raise NotImplementedError

    def cause_of(self, output: object) -> type[Action]:
        """The action of this role whose output model `output` is.

        Raises:
            TypeError: none of the role's actions produces such an output (a bug in the role).
        """
        for action in self.actions:
            if isinstance(output, action.output_model):
                return action
        raise TypeError(f"{self.name} runs no action whose output is a {type(output).__name__}")

    def publish(self, ctx: RunContext, output: object) -> None:
        """Publish one of this role's action outputs; its `cause_by` is the action that produces it."""
        ctx.publish(self.name, self.cause_of(output).name, output)

    def __repr__(self) -> str:
        watches = [cause.name for cause in self.watches]
        return f"{self.name}(watches={watches}, actions={[a.name for a in self.actions]})"
