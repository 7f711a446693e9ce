"""Architect: turns the PRD into a system design (WriteDesign): file list, interfaces, call flow."""

from __future__ import annotations

from typing import ClassVar

from polyteam.actions.base import Action
from polyteam.actions.write_design import WriteDesign
from polyteam.actions.write_prd import WritePRD
from polyteam.team.context import RunContext
from polyteam.team.message import Cause, TeamMessage
from polyteam.team.role import Role


class Architect(Role):
    actions: ClassVar[tuple[type[Action], ...]] = (WriteDesign,)
    watches: ClassVar[tuple[Cause, ...]] = (WritePRD,)

    async def react(self, message: TeamMessage, ctx: RunContext) -> None:
        design = await ctx.act(self.name, WriteDesign(), WriteDesign.name, {"prd": message.content})
        await ctx.artifacts.write_doc(self.name, "docs/system_design", design)
        self.publish(ctx, design)
