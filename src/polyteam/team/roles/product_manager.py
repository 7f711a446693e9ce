"""ProductManager: turns the user's requirement into a PRD (WritePRD) and names the project (in the state,
not the folder: the folder is named once, from the requirement)."""

from __future__ import annotations

from typing import ClassVar

from polyteam.actions.base import Action
from polyteam.actions.write_prd import WritePRD
from polyteam.team.context import RunContext
from polyteam.team.message import Cause, TeamMessage, UserRequirement
from polyteam.team.role import Role


class ProductManager(Role):
    actions: ClassVar[tuple[type[Action], ...]] = (WritePRD,)
    watches: ClassVar[tuple[Cause, ...]] = (UserRequirement,)

    async def react(self, message: TeamMessage, ctx: RunContext) -> None:
        requirement = str(message.content)
        prd = await ctx.act(self.name, WritePRD(), WritePRD.name, {"requirement": requirement})
        ctx.checkpoint.state.project_name = prd.project_name  # recorded; the folder keeps its name
        await ctx.artifacts.write_doc(self.name, "docs/prd", prd)
        self.publish(ctx, prd)
