"""ProductManager: turns the user's requirement into a PRD (WritePRD) and names the project."""

from __future__ import annotations

from typing import ClassVar

from polyteam.team.context import RunContext
from polyteam.team.message import USER_REQUIREMENT, TeamMessage
from polyteam.team.role import Role


class ProductManager(Role):
    name: ClassVar[str] = "ProductManager"
    profile: ClassVar[str] = "Product Manager"
    goal: ClassVar[str] = "a clear, prioritised PRD for the requirement"
    actions: ClassVar[tuple[str, ...]] = ("WritePRD",)
    watches: ClassVar[tuple[str, ...]] = (USER_REQUIREMENT,)

    async def react(self, message: TeamMessage, ctx: RunContext) -> None:
        from polyteam.actions.write_prd import WritePRD

        requirement = str(message.content)
        prd = await ctx.act(self.name, WritePRD(), "WritePRD", {"requirement": requirement})
        await ctx.aname_project(self.name, prd.project_name)
        await ctx.awrite(self.name, "docs/prd.md", prd.to_markdown())
        await ctx.awrite_json(self.name, "docs/prd.json", prd.model_dump(mode="json"))
        ctx.publish(self.name, "WritePRD", prd)
