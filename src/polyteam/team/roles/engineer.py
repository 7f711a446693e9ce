"""Engineer: writes every file of the task list (WriteCode) and reviews each one (WriteCodeReview).

Owns the write schedule: each file starts as soon as the files it depends on are written (not
layer by layer), so independent files are requested concurrently; its review starts as soon as it
is written, while other files are still being written. A file gets only its own dependencies'
code. Up to `review_k` review rounds per file: LBTM with corrected code replaces the file and the
new code is reviewed again. Unsafe file names (and names polyteam reserves, and a file that is
another's folder) are reported and skipped, never written. The project's README.md is written last. The dependency plan itself is `polyteam.team.dag`'s.
Generated code is never executed or imported.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from polyteam.actions.base import Action
from polyteam.actions.write_code import WriteCode
from polyteam.actions.write_code_review import CodeReview, WriteCodeReview
from polyteam.actions.write_design import Design, WriteDesign
from polyteam.actions.write_prd import PRD, WritePRD
from polyteam.actions.write_tasks import Tasks, WriteTasks
from polyteam.team.context import RunContext, RunStopped
from polyteam.team.dag import FilePlan, normalize_file, plan_files
from polyteam.team.message import Cause, TeamMessage
from polyteam.team.role import Role

_ENTRY_POINTS = ("main.py", "app.py", "cli.py", "run.py", "manage.py", "server.py", "index.js", "main.js")


def plan_from_tasks(tasks: Tasks, design: Design | None = None) -> FilePlan:
    """The write plan from WriteTasks' output (task order + each file's `depends_on`).

    The design's file list is used only when the tasks name no file at all.
    """
    depends = {item.file: list(item.depends_on) for item in tasks.logic_analysis}
    extra: list[str] = []
    if not tasks.task_list and not depends and design is not None:
        extra = list(design.file_list)
    return plan_files(list(tasks.task_list), depends, extra)


def review_markdown(filename: str, rounds: list[CodeReview]) -> str:
    parts = [f"# Code review: `{filename}`\n"]
    for i, review in enumerate(rounds, 1):
        parts.append(f"\n## Round {i}: {review.verdict}\n\n{review.round_markdown().strip()}\n")
    return "".join(parts)


def readme_markdown(
    prd: PRD,
    design: Design | None,
    tasks: Tasks,
    files: list[str],
    skipped: list[str],
    code: dict[str, str] | None = None,
) -> str:
    """README.md of the generated project, from the PRD, the design and the tasks (no LLM call).

    `code`: the files as written; Python that does not compile (compile() only) is named, and a file
    that is a stand-in (no reply held valid code: polyteam.actions.write_code.STUB) says so.
    """
    described = {normalize_file(a.file): a.description for a in tasks.logic_analysis}
    lines = [f"# {prd.project_name}", "", prd.original_requirement.strip() or "", ""]
    if prd.product_goals:
        lines += ["## Goals", "", *[f"- {g}" for g in prd.product_goals], ""]
    if design is not None and design.implementation_approach:
        lines += ["## Approach", "", design.implementation_approach.strip(), ""]
    lines += ["## Files", "", "| file | purpose |", "| --- | --- |"]
    for f in files:
        text = " ".join(str(described.get(f, "")).split()).replace("|", "\\|")
        lines.append(f"| `{f}` | {text} |")
    lines.append("")
    if skipped:
        lines += ["Not written (unsafe names or binary assets): " + ", ".join(f"`{s}`" for s in skipped), ""]
    lines += _quality_notes(code or {})
    lines += ["## Setup", "", "```sh", "python -m venv .venv && . .venv/bin/activate"]
    if tasks.required_packages:
        lines.append("pip install -r requirements.txt")
    lines += ["```", ""]
    entry = next((f for f in _ENTRY_POINTS if f in files), None)
    if entry is not None:
        runner = "node" if entry.endswith(".js") else "python"
        lines += ["## Run", "", "```sh", f"{runner} {entry}", "```", ""]
    lines += [
        "## How this was made",
        "",
        "Written by a polyteam run: the requirement, PRD, system design, task list and per-file code",
        "reviews are in `docs/`. polyteam never runs the code it generates: read it before you do.",
        "",
    ]
    return "\n".join(lines)


def _quality_notes(code: dict[str, str]) -> list[str]:
    """README lines naming Python files that do not compile and files that are stand-ins (weak helper's hook)."""
    from polyteam.actions.gates import compile_problem

    broken = [f for f, text in code.items() if compile_problem(f, text)]
    stubs = [f for f, text in code.items() if "Not written: no model's reply" in text]
    lines: list[str] = []
    if broken:
        lines += ["Does not compile: " + ", ".join(f"`{f}`" for f in broken), ""]
    if stubs:
        lines += ["Stand-ins (no model's reply held valid code): " + ", ".join(f"`{f}`" for f in stubs), ""]
    return lines


class Engineer(Role):
    actions: ClassVar[tuple[type[Action], ...]] = (WriteCode, WriteCodeReview)
    watches: ClassVar[tuple[Cause, ...]] = (WriteTasks,)

    async def react(self, message: TeamMessage, ctx: RunContext) -> None:
        tasks = message.content
        design_msg = ctx.env.latest(WriteDesign)
        prd_msg = ctx.env.latest(WritePRD)
        design = design_msg.content if design_msg else None
        plan = plan_from_tasks(tasks, design)
        for line in plan.dropped:
            ctx.events.note(self.name, f"dependency plan: {line}")

        files = ctx.artifacts.screen(self.name, plan.files)  # unsafe, reserved, colliding: skipped
        not_written = [f for f in plan.files if f not in files]

        code: dict[str, str] = {}
        written = {f: asyncio.Event() for f in files}
        # the code prompts name the requirement (a tiny model otherwise never sees "snake")
        requirement = str(getattr(prd_msg.content, "original_requirement", "") or "") if prd_msg else ""
        write_code, review = WriteCode(), WriteCodeReview()

        async def build(f: str) -> None:
            deps = [d for d in plan.deps[f] if d in written]
            for d in deps:
                await written[d].wait()
            dependencies = {d: code[d] for d in deps if d in code}
            try:
                inputs = {
                    "design": design,
                    "tasks": tasks,
                    "filename": f,
                    "dependencies": dependencies,
                    "requirement": requirement,
                }
                out = await ctx.act(self.name, write_code, f"{WriteCode.name}:{f}", inputs)
                code[f] = out.code
                if not await ctx.artifacts.write(self.name, f, out.code, model_named=True):
                    return
            finally:
                written[f].set()  # dependents go on; if this file failed the run is stopping anyway
            # let the dependents just released build and send their WriteCode before this review is
            # built and sent: the chain goes through them, not through the review (issue 15)
            await asyncio.sleep(0)
            await self._review(ctx, review, f, code, dependencies, design, tasks, requirement)

        results = await asyncio.gather(*(build(f) for f in files), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, RunStopped):
                raise result
        if any(isinstance(r, RunStopped) for r in results):
            raise RunStopped
        if "README.md" not in files and prd_msg is not None:
            readme = readme_markdown(prd_msg.content, design, tasks, files, not_written, code)
            await ctx.artifacts.write(self.name, "README.md", readme)

    async def _review(
        self,
        ctx: RunContext,
        review: WriteCodeReview,
        f: str,
        code: dict[str, str],
        dependencies: dict[str, str],
        design: Design | None,
        tasks: Tasks,
        requirement: str = "",
    ) -> None:
        rounds: list[CodeReview] = []
        for r in range(1, ctx.review_k + 1):
            inputs = {
                "design": design,
                "tasks": tasks,
                "filename": f,
                "code": code[f],
                "dependencies": dependencies,
                "requirement": requirement,
            }
            key = f"{WriteCodeReview.name}:{f}:{r}"
            verdict = await ctx.act(self.name, review, key, inputs, optional=True)
            if verdict is None:  # the review itself failed: keep the file as written
                break
            rounds.append(verdict)
            await ctx.artifacts.write(self.name, f"docs/code_review/{f}.md", review_markdown(f, rounds))
            corrected = verdict.corrected_code
            if verdict.verdict != "LBTM" or not corrected or corrected.strip() == code[f].strip():
                break
            code[f] = corrected
            await ctx.artifacts.write(self.name, f, corrected, model_named=True)
            ctx.events.note(self.name, f"{f}: review round {r} found problems; corrected file written")
