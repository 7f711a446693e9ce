"""Architect: turns the PRD into a system design (WriteDesign): file list, interfaces, call flow."""

from __future__ import annotations

from typing import ClassVar

from polyteam.team.context import RunContext
from polyteam.team.message import TeamMessage
from polyteam.team.role import Role


class Architect(Role):
    name: ClassVar[str] = "Architect"
    profile: ClassVar[str] = "Architect"
    goal: ClassVar[str] = "a simple, complete design with a file list and Mermaid diagrams"
    actions: ClassVar[tuple[str, ...]] = ("WriteDesign",)
    watches: ClassVar[tuple[str, ...]] = ("WritePRD",)

    async def react(self, message: TeamMessage, ctx: RunContext) -> None:
        from polyteam.actions.write_design import WriteDesign

        design = await ctx.act(self.name, WriteDesign(), "WriteDesign", {"prd": message.content})
        await ctx.awrite(self.name, "docs/system_design.md", design.to_markdown())
        await ctx.awrite_json(self.name, "docs/system_design.json", design.model_dump(mode="json"))
        ctx.publish(self.name, "WriteDesign", design)
