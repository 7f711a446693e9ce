"""WriteCode (Engineer): one complete source file (`CodeFile`).

Owns the code prompt, `CodeFile`, and `FileBrief` (what the prompts about one file, this one's and
WriteCodeReview's, know of it). The prompt holds only what this file needs: the design's
approach and the part of its class diagram this file touches, this file's logic analysis, the
shared knowledge, and the code of ONLY the files it depends on (outlines for tiny models), so
prompts do not grow with the number of files already written and calls stay independent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import field_validator

from polyteam.actions.base import Action, OutputModel, as_code_text, as_model, outline_code
from polyteam.actions.parsing import extract_code_block
from polyteam.actions.write_design import Design
from polyteam.actions.write_tasks import Tasks
from polyteam.providers.base import Message

SYSTEM = (
    "You are Engineer running WriteCode. You write one complete, working Python file at a time, "
    "consistent with the design and with the code of the files it imports. Reply with one JSON "
    "object and nothing else."
)

EXAMPLE_TINY = '{{"filename": "{filename}", "code": "..."}}'

EXAMPLE = '{"filename": "game.py", "code": "\\"\\"\\"Game state.\\"\\"\\"\\nimport random\\n..."}'

USER = """File: {filename}
Project files: {files}
Approach: {approach}
Interfaces (Mermaid):
{interfaces}
This file: {description}
Depends on: {depends_on}
Shared knowledge: {shared_knowledge}
Third-party packages: {packages}
{dependency_code}
Write the complete code of {filename}: no placeholders or TODOs; import only the standard library,
the third-party packages above and the files it depends on (as plain modules, e.g. `import models`).
Reply as one JSON object: {example}"""

USER_TINY = """File: {filename}
This file: {description}
Depends on: {depends_on}
{dependency_code}
Reply as JSON: {example}"""

#: one dependency, as quoted into the prompt
DEPENDENCY = """Code of {name}:
```python
{code}
```
"""

#: one dependency for a tiny model: its signatures only
DEPENDENCY_TINY = """Interface of {name}:
```python
{code}
```
"""

#: the head of the dependency section (empty when there are none)
DEPENDENCY_HEAD = "Files it depends on:\n"

_MAX_QUOTE = 1500


#: the shortest `code` the JSON schema admits (a real file is longer; this only rules out "")
MIN_CODE_CHARS = 16


class CodeFile(OutputModel):
    """One source file."""

    aliases: ClassVar[dict[str, str]] = {
        "file": "filename",
        "path": "filename",
        "content": "code",
        "source": "code",
    }

    filename: str = ""
    code: str

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, value: Any) -> Any:
        value = as_code_text(value)
        if value == "":
            raise ValueError("code is empty; write the whole file")
        return value

    def to_markdown(self) -> str:
        lang = "python" if self.filename.endswith(".py") else ""
        return f"# {self.filename}\n\n```{lang}\n{self.code}```\n"


def relevant_interfaces(
    diagram: str, names: list[str], whole_below: int = 600, limit: int = _MAX_QUOTE
) -> str:
    """The class-diagram blocks that mention one of `names` (all of it when under `whole_below` chars)."""
    if len(diagram) <= whole_below:
        return diagram
    wanted = [n.lower() for n in names if n]
    kept: list[str] = []
    block: list[str] = []
    depth = 0
    for line in diagram.splitlines():
        if depth == 0 and block:
            text = "\n".join(block)
            if any(n in text.lower() for n in wanted):
                kept.append(text)
            block = []
        block.append(line)
        depth += line.count("{") - line.count("}")
        depth = max(depth, 0)
    if block and any(n in "\n".join(block).lower() for n in wanted):
        kept.append("\n".join(block))
    header = diagram.splitlines()[0] if diagram.strip() else "classDiagram"
    body = [b for b in kept if b.strip() != header.strip()]
    text = "\n".join([header, *body]) if body else diagram
    return text[:limit]


def interface_names(filename: str, description: str, deps: list[str]) -> list[str]:
    stems = [re.sub(r"\.py$", "", f.rsplit("/", 1)[-1]) for f in [filename, *deps]]
    words = re.findall(r"\b[A-Z][A-Za-z0-9_]+\b", description)
    return stems + words


@dataclass(frozen=True)
class FileBrief:
    """What the prompts about one file (WriteCode, WriteCodeReview) know of it, from their inputs."""

    filename: str
    design: Design
    tasks: Tasks
    #: file name -> code of the files already written that this one may use
    dependencies: dict[str, str]
    #: the file's logic analysis
    description: str
    #: the project files it depends on (the task's list, else every dependency given)
    deps: list[str]

    @classmethod
    def from_inputs(cls, inputs: dict[str, Any]) -> FileBrief:
        """From an action's inputs: `filename`, `design`, `tasks` and optional `dependencies`."""
        design: Design = as_model(inputs["design"], Design)
        tasks: Tasks = as_model(inputs["tasks"], Tasks)
        filename: str = inputs["filename"]
        dependencies: dict[str, str] = dict(inputs.get("dependencies") or {})
        task = tasks.task_for(filename)
        return cls(
            filename=filename,
            design=design,
            tasks=tasks,
            dependencies=dependencies,
            description=(task.description if task else "") or "see the design",
            deps=task.depends_on if task else sorted(dependencies),
        )

    @property
    def depends_on(self) -> str:
        return ", ".join(self.deps) or "none"

    @property
    def interfaces(self) -> str:
        """The part of the design's class diagram this file touches ("-" when there is none)."""
        names = interface_names(self.filename, self.description, self.deps)
        return relevant_interfaces(self.design.data_structures_and_interfaces, names) or "-"


class WriteCode(Action):
    name: ClassVar[str] = "WriteCode"
    role: ClassVar[str] = "Engineer"
    output_model: ClassVar[type[OutputModel]] = CodeFile
    max_tokens: ClassVar[int] = 3000
    tiny_max_tokens: ClassVar[int] = 400

    def build_json_schema(self) -> dict[str, Any]:
        # constrained decoders (llama.cpp) otherwise let a weak model close the string at once:
        # an empty file is never a valid answer
        schema = super().build_json_schema()
        schema["properties"]["code"]["minLength"] = MIN_CODE_CHARS
        schema["required"] = ["code"]
        return schema

    def build_messages(self, *, tiny: bool = False, **inputs: Any) -> list[Message]:
        brief = FileBrief.from_inputs(inputs)
        design, tasks, filename = brief.design, brief.tasks, brief.filename
        quoted = "".join(
            DEPENDENCY_TINY.format(name=name, code=outline_code(code))
            if tiny
            else DEPENDENCY.format(name=name, code=code.rstrip("\n"))
            for name, code in brief.dependencies.items()
        )
        dependency_code = DEPENDENCY_HEAD + quoted if quoted else ""
        example = EXAMPLE_TINY.format(filename=filename) if tiny else EXAMPLE
        if tiny:
            user = USER_TINY.format(
                filename=filename,
                description=brief.description,
                depends_on=brief.depends_on,
                dependency_code=dependency_code,
                example=example,
            )
        else:
            user = USER.format(
                filename=filename,
                files=", ".join(design.file_list),
                approach=design.implementation_approach[:_MAX_QUOTE] or "-",
                interfaces=brief.interfaces,
                description=brief.description,
                depends_on=brief.depends_on,
                shared_knowledge=tasks.shared_knowledge[:_MAX_QUOTE] or "-",
                packages=", ".join(tasks.required_packages or design.third_party_packages) or "none",
                dependency_code=dependency_code,
                example=example,
            )
        return [Message("system", SYSTEM), Message("user", user)]

    def complete_data(self, data: dict[str, Any], inputs: dict[str, Any], fixes: list[str]) -> dict[str, Any]:
        # the file the team asked for is the file written, whatever name the reply gives
        data["filename"] = inputs["filename"]
        return data

    def from_text(self, text: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
        code = extract_code_block(text)
        return None if code is None else {"filename": inputs["filename"], "code": code}
