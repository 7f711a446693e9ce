"""WriteTasks (ProjectManager): PRD + design -> per-file tasks with dependencies (`Tasks`).

Owns the tasks prompt, the `Tasks` model (logic analysis with each file's `depends_on`,
normalised against the project's files; a task list in dependency order) and its Markdown.
Scheduling files into concurrent layers is the team's job (`polyteam.team`).
"""

from __future__ import annotations

import copy
import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from polyteam.actions.base import (
    Action,
    ActionInput,
    DepList,
    FileList,
    OutputModel,
    StrList,
    Text,
    clean_path,
)
from polyteam.actions.gates import MAX_FILES, bounded_schema, file_name_problem
from polyteam.actions.write_design import Design
from polyteam.actions.write_prd import PRD
from polyteam.providers.base import Message

SYSTEM = (
    "You are ProjectManager running WriteTasks. You split a design into per-file tasks and "
    "state which project files each file imports. Reply with one JSON object and nothing else."
)

EXAMPLE = (
    '{"required_packages": [], "logic_analysis": ['
    '{"file": "models.py", "description": "Snake and Food dataclasses", "depends_on": []}, '
    '{"file": "main.py", "description": "parse args, run the loop", "depends_on": ["models.py"]}], '
    '"task_list": ["models.py", "main.py"], "shared_knowledge": "...", "anything_unclear": ""}'
)

USER = """Requirement: {requirement}
Files: {files}
Approach: {approach}
Interfaces (Mermaid):
{interfaces}
Third-party packages: {packages}

Write the tasks as one JSON object of this shape:
{example}
Rules: one logic_analysis entry per file above; depends_on lists only the project files that the
file imports (no cycles; [] when it imports none), so files without mutual dependencies can be
written in parallel; task_list orders every file after the files it depends on; shared_knowledge
holds conventions all files must share (names, constants)."""

USER_TINY = """Files: {files}
Reply with JSON like: {example}"""

EXAMPLE_TINY = '{"logic_analysis": [{"file": "main.py", "description": "...", "depends_on": []}]}'

MARKDOWN = """# Tasks

## Required packages
{required_packages}

## Logic analysis
| File | Depends on | What it does |
| --- | --- | --- |
{rows}

## Task list (dependency order)
{task_list}
{adopted}
## Shared knowledge
{shared_knowledge}

## Anything unclear
{anything_unclear}
"""

#: cap on the design text quoted into the prompt (tokens are the user's money)
_MAX_QUOTE = 1500


class FileTask(BaseModel):
    """One file's task: what it does and the project files it depends on."""

    model_config = ConfigDict(extra="ignore")

    file: str
    description: Text = ""
    depends_on: DepList = []

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, data: Any) -> Any:
        # ["file.py", "description", [deps]] rows and "file.py: description" strings
        if isinstance(data, list | tuple) and data:
            row = {"file": data[0], "description": data[1] if len(data) > 1 else ""}
            if len(data) > 2:
                row["depends_on"] = data[2]
            return row
        if isinstance(data, str):
            file, _, desc = data.partition(":")
            return {"file": file, "description": desc.strip()}
        if isinstance(data, dict):
            lowered = {re.sub(r"[\s\-]+", "_", str(k).strip().lower()): v for k, v in data.items()}
            file = (
                lowered.get("file") or lowered.get("filename") or lowered.get("path") or lowered.get("name")
            )
            desc = lowered.get("description") or lowered.get("logic") or lowered.get("analysis") or ""
            deps = lowered.get("depends_on", lowered.get("dependencies", lowered.get("imports", [])))
            return {"file": file, "description": desc, "depends_on": deps}
        return data

    @model_validator(mode="after")
    def _clean(self) -> FileTask:
        self.file = clean_path(self.file)
        if not self.file:
            raise ValueError("a logic_analysis entry has no file")
        return self


class Tasks(OutputModel):
    """Per-file tasks, with dependencies, in dependency order."""

    aliases: ClassVar[dict[str, str]] = {
        "packages": "required_packages",
        "required_python_third_party_packages": "required_packages",
        "required_python_packages": "required_packages",
        "files": "logic_analysis",
        "tasks": "task_list",
        "shared": "shared_knowledge",
    }

    required_packages: StrList = []
    logic_analysis: list[FileTask] = []
    task_list: FileList = []
    shared_knowledge: Text = ""
    anything_unclear: Text = ""
    #: files the task list names that the design did not, taken into the project once (gate)
    adopted_files: list[str] = []

    @model_validator(mode="before")
    @classmethod
    def _mapping_analysis(cls, data: Any) -> Any:
        # {"logic_analysis": {"main.py": "desc", ...}} -> a list of entries
        if isinstance(data, dict) and isinstance(data.get("logic_analysis"), dict):
            data = dict(data)
            data["logic_analysis"] = [
                {"file": k, **v} if isinstance(v, dict) else [k, v] for k, v in data["logic_analysis"].items()
            ]
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Tasks:
        if not self.logic_analysis and not self.task_list:
            raise ValueError("logic_analysis and task_list are both empty; list each file")
        entries: dict[str, FileTask] = {}
        for entry in self.logic_analysis:
            if entry.file in entries:
                entries[entry.file].depends_on += [
                    d for d in entry.depends_on if d not in entries[entry.file].depends_on
                ]
            else:
                entries[entry.file] = entry
        for name in self.task_list:
            entries.setdefault(name, FileTask(file=name))
        known = list(entries)
        for entry in entries.values():
            entry.depends_on = _normalise_deps(entry.file, entry.depends_on, known)
        self.logic_analysis = list(entries.values())
        ordered = [f for f in self.task_list if f in entries]
        self.task_list = ordered + [f for f in known if f not in ordered]
        return self

    def task_for(self, filename: str) -> FileTask | None:
        """The logic-analysis entry of one file, or None."""
        return next((t for t in self.logic_analysis if t.file == filename), None)

    def depends_on(self, filename: str) -> list[str]:
        """The project files `filename` depends on ([] when unknown)."""
        task = self.task_for(filename)
        return list(task.depends_on) if task else []

    def to_markdown(self) -> str:
        rows = "\n".join(
            f"| `{t.file}` | {', '.join(f'`{d}`' for d in t.depends_on) or '-'} | {_cell(t.description) or '-'} |"
            for t in self.logic_analysis
        )
        return MARKDOWN.format(
            required_packages="\n".join(f"- {p}" for p in self.required_packages) or "- (none)",
            rows=rows,
            task_list="\n".join(f"{i}. `{f}`" for i, f in enumerate(self.task_list, 1)),
            adopted=(
                "\nNot in the design, adopted by the task list: "
                + ", ".join(f"`{f}`" for f in self.adopted_files)
                + "\n"
            )
            if self.adopted_files
            else "",
            shared_knowledge=self.shared_knowledge or "-",
            anything_unclear=self.anything_unclear or "-",
        )


def _normalise_deps(file: str, deps: list[str], known: list[str]) -> list[str]:
    """Map module-style names onto project files ("utils", "pkg.utils" -> "utils.py"); drop self."""
    by_stem: dict[str, str] = {}
    for k in known:
        stem = k[:-3] if k.endswith(".py") else k
        by_stem.setdefault(stem, k)
        by_stem.setdefault(stem.replace("/", "."), k)
        by_stem.setdefault(stem.rsplit("/", 1)[-1], k)
    out: list[str] = []
    for dep in deps:
        target = dep if dep in known else by_stem.get(dep[:-3] if dep.endswith(".py") else dep, dep)
        if target != file and target not in out:
            out.append(target)
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


class TasksInput(ActionInput):
    """WriteTasks' input: the PRD (optional) and the design."""

    prd: PRD | None = None
    design: Design


#: how many files the task list may add to the design's (each a plausible name), once
MAX_ADOPTED = 2


class WriteTasks(Action):
    name: ClassVar[str] = "WriteTasks"
    output_model: ClassVar[type[OutputModel]] = Tasks
    input_model: ClassVar[type[ActionInput]] = TasksInput
    max_tokens: ClassVar[int] = 1200
    tiny_max_tokens: ClassVar[int] = 400

    def build_messages(self, inputs: TasksInput, *, tiny: bool = False) -> list[Message]:
        prd, design = inputs.prd, inputs.design
        files = ", ".join(design.file_list)
        if tiny:
            user = USER_TINY.format(files=files, example=EXAMPLE_TINY)
        else:
            user = USER.format(
                requirement=(prd.original_requirement or prd.project_name).strip() if prd else "-",
                files=files,
                approach=design.implementation_approach[:_MAX_QUOTE] or "-",
                interfaces=design.data_structures_and_interfaces[:_MAX_QUOTE] or "-",
                packages=", ".join(design.third_party_packages) or "none",
                example=EXAMPLE,
            )
        return [Message("system", SYSTEM), Message("user", user)]

    def build_json_schema(self) -> dict[str, Any]:
        # constrained decoders (llama.cpp) only emit required keys reliably: ask for the analysis
        schema: dict[str, Any] = bounded_schema(super().build_json_schema(), max_chars=400, max_items=MAX_FILES)
        schema["required"] = ["logic_analysis"]
        schema["properties"].pop("adopted_files", None)  # the gate's, not the model's
        return schema

    def constrain_schema(self, schema: dict[str, Any], inputs: TasksInput) -> dict[str, Any]:
        """The design's files as an enum wherever a file is named: a constrained model names no other."""
        files = list(dict.fromkeys(inputs.design.file_list))
        if not files:
            return schema
        out = copy.deepcopy(schema)
        enum = {"type": "string", "enum": files}
        for props in (out["properties"], out.get("$defs", {}).get("FileTask", {}).get("properties", {})):
            if "file" in props:
                props["file"] = dict(enum)
            for key in ("task_list", "depends_on"):
                if key in props:
                    props[key] = {**props[key], "items": dict(enum), "maxItems": len(files)}
        return out

    def complete_data(self, data: dict[str, Any], inputs: TasksInput, fixes: list[str]) -> dict[str, Any]:
        # a reply with no file at all (tiny models): the design's files, in its order, no dependencies
        norm = {str(k).strip().lower().replace(" ", "_"): v for k, v in data.items()}
        if not any(norm.get(k) for k in ("logic_analysis", "task_list", "files", "tasks")):
            data["task_list"] = list(inputs.design.file_list)
            fixes.append("task list taken from the design")
        data.pop("adopted_files", None)
        return data

    def check(self, output: Any, inputs: TasksInput, fixes: list[str]) -> list[str]:
        """Task files are the design's: its missing files added; a few plausible extras adopted, visibly."""
        design = list(inputs.design.file_list)
        extra = [f for f in output.task_list if f not in design]
        bad = [f for f in extra if file_name_problem(f) is not None]
        if bad or len(extra) > MAX_ADOPTED:
            shown = ", ".join(repr(f) for f in (bad or extra)[:3])
            return [f"the task list names files the design does not ({shown}); use only: {', '.join(design)}"]
        missing = [f for f in design if f not in output.task_list]
        for f in missing:
            output.task_list.append(f)
            output.logic_analysis.append(FileTask(file=f))
        if missing and len(missing) < len(design):
            fixes.append("design files added to the task list: " + ", ".join(missing))
        if extra:
            output.adopted_files = extra
            fixes.append("the design adopts " + ", ".join(extra))
        return []

    def last_resort(self, inputs: TasksInput) -> Tasks:
        """The design's files in its order, none depending on another (marked degraded by the caller)."""
        return Tasks(task_list=list(inputs.design.file_list))
