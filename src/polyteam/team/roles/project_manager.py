"""ProjectManager: turns the design into tasks (WriteTasks): per-file logic, dependencies, order, packages."""

from __future__ import annotations

import re
from typing import ClassVar

from polyteam.actions.base import Action
from polyteam.actions.write_design import WriteDesign
from polyteam.actions.write_prd import WritePRD
from polyteam.actions.write_tasks import WriteTasks
from polyteam.team.context import RunContext
from polyteam.team.dag import normalize_file
from polyteam.team.message import Cause, TeamMessage
from polyteam.team.role import Role

# a requirement line: a distribution name with optional extras, version specifiers and markers
_REQUIREMENT = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._ -]+\])?\s*([<>=!~]=?[^;\s]*(\s*,\s*[<>=!~]=?[^;\s]*)*)?(\s*;.*)?$"
)


def requirements_txt(packages: list[str]) -> str:
    """`requirements.txt` from the tasks' package list: one requirement a line, notes and commands dropped."""
    lines: list[str] = []
    for raw in packages:
        text = str(raw).strip().strip("`'\"")
        text = re.sub(r"^(pip3?\s+install\s+)", "", text).strip()
        text = re.split(r"\s+#|\s+-\s+|:\s", text)[0].strip()  # "flask==3.0 - web server" -> "flask==3.0"
        text = re.sub(r"\s*([<>=!~]=?)\s*", r"\1", text)  # "flask >= 3" -> "flask>=3"
        if text and _REQUIREMENT.match(text) and text.lower() not in (x.lower() for x in lines):
            lines.append(text)
    return "".join(f"{line}\n" for line in lines)


class ProjectManager(Role):
    actions: ClassVar[tuple[type[Action], ...]] = (WriteTasks,)
    watches: ClassVar[tuple[Cause, ...]] = (WriteDesign,)

    async def react(self, message: TeamMessage, ctx: RunContext) -> None:
        prd_message = ctx.env.latest(WritePRD)
        prd = prd_message.content if prd_message else None
        inputs = {"prd": prd, "design": message.content}
        tasks = await ctx.act(self.name, WriteTasks(), WriteTasks.name, inputs)
        await ctx.artifacts.write_doc(self.name, "docs/tasks", tasks)
        files = {normalize_file(f) for f in [*tasks.task_list, *(a.file for a in tasks.logic_analysis)]}
        if "requirements.txt" not in files:  # the Engineer writes it when the tasks list it as a file
            await ctx.artifacts.write(
                self.name, "requirements.txt", requirements_txt(list(tasks.required_packages))
            )
        self.publish(ctx, tasks)
