"""ProductManager: turns the user's requirement into a PRD (WritePRD) and names the project."""

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
        await ctx.aname_project(self.name, prd.project_name)
        await ctx.awrite(self.name, "docs/prd.md", prd.to_markdown())
        await ctx.awrite_json(self.name, "docs/prd.json", prd.model_dump(mode="json"))
        self.publish(ctx, prd)
