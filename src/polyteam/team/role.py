"""The Role base: who a role is, which actions it runs, which action types it watches, how it reacts.

A role is stateless between runs: everything it must remember lives in the run state (through
`RunContext.act`) or in the environment's history, so a resumed run replays the same reactions and
takes every finished action from the checkpoint. Scheduling reactions is the Team's job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from polyteam.team.context import RunContext
    from polyteam.team.message import TeamMessage


class Role:
    """Subclasses set the class attributes and implement `react`."""

    name: ClassVar[str]
    profile: ClassVar[str]
    goal: ClassVar[str]
    actions: ClassVar[tuple[str, ...]]  # the action names it runs (DESIGN §1 spellings)
    watches: ClassVar[tuple[str, ...]]  # the action types whose messages start it

    async def react(self, message: TeamMessage, ctx: RunContext) -> None:
        """Handle one message: run actions through `ctx.act`, write artifacts, publish results.

        Raises:
            RunStopped: the run is stopping; the role just returns control.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(watches={self.watches}, actions={self.actions})"
