"""WriteDesign (Architect): the PRD -> a system design (`Design`).

Owns the design prompt, the `Design` model (file list, Mermaid class and sequence diagrams)
and its Markdown rendering.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import field_validator

from polyteam.actions.base import Action, ActionInput, FileList, Mermaid, OutputModel, StrList, Text
from polyteam.actions.fields import clean_path
from polyteam.actions.gates import (
    FILE_NAME_PATTERN,
    MAX_FILES,
    bounded_schema,
    file_list_problems,
    file_name_problem,
)
from polyteam.actions.write_prd import PRD
from polyteam.errors import MalformedReplyError
from polyteam.providers.base import Message

SYSTEM = (
    "You are Architect running WriteDesign. You design small, clean Python programs. "
    "Reply with one JSON object and nothing else."
)

EXAMPLE = (
    '{"implementation_approach": "...", "file_list": ["models.py", "game.py", "main.py"], '
    '"data_structures_and_interfaces": "classDiagram\\n  class Game {\\n    +int score\\n    +step() bool\\n  }", '
    '"program_call_flow": "sequenceDiagram\\n  participant M as main\\n  M->>Game: step()", '
    '"third_party_packages": [], "anything_unclear": ""}'
)

USER = """Project: {project_name}
Requirement: {requirement}
Goals:
{goals}
Requirements:
{requirements}

Write the system design as one JSON object of this shape:
{example}
Rules: file_list holds the relative paths of the Python source files (3-8 files, main.py is the
entry point); prefer independent modules over one big file; data_structures_and_interfaces is a
Mermaid classDiagram, program_call_flow a Mermaid sequenceDiagram (plain text, no fences);
third_party_packages are pip requirements, [] when the standard library suffices."""

USER_TINY = """Project: {project_name}
Requirement: {requirement}
Reply with JSON like: {example}"""

EXAMPLE_TINY = '{"implementation_approach": "...", "file_list": ["game.py", "main.py"]}'

#: the simpler format, when no LLM's JSON design held up: a plain list of file names
USER_PLAIN = """Requirement: {requirement}
List the Python files of this program, one file name per line (like game.py), main.py last.
Nothing else."""

MARKDOWN = """# System design

## Implementation approach
{implementation_approach}

## File list
{file_list}

## Data structures and interfaces
```mermaid
{data_structures_and_interfaces}
```

## Program call flow
```mermaid
{program_call_flow}
```

## Third-party packages
{third_party_packages}

## Anything unclear
{anything_unclear}
"""


class Design(OutputModel):
    """The system design."""

    aliases: ClassVar[dict[str, str]] = {
        "approach": "implementation_approach",
        "files": "file_list",
        "data_structures": "data_structures_and_interfaces",
        "data_structures_and_interface": "data_structures_and_interfaces",
        "class_diagram": "data_structures_and_interfaces",
        "call_flow": "program_call_flow",
        "sequence_diagram": "program_call_flow",
        "packages": "third_party_packages",
        "required_python_third_party_packages": "third_party_packages",
    }

    implementation_approach: Text = ""
    file_list: FileList
    data_structures_and_interfaces: Mermaid = ""
    program_call_flow: Mermaid = ""
    third_party_packages: StrList = []
    anything_unclear: Text = ""

    @field_validator("file_list")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("file_list is empty; list the source files")
        return value

    def to_markdown(self) -> str:
        return MARKDOWN.format(
            implementation_approach=self.implementation_approach or "-",
            file_list="\n".join(f"- `{f}`" for f in self.file_list),
            data_structures_and_interfaces=self.data_structures_and_interfaces or "classDiagram",
            program_call_flow=self.program_call_flow or "sequenceDiagram",
            third_party_packages="\n".join(f"- {p}" for p in self.third_party_packages) or "- (none)",
            anything_unclear=self.anything_unclear or "-",
        )


class DesignInput(ActionInput):
    """WriteDesign's input: the PRD."""

    prd: PRD


def _requirement(prd: PRD) -> str:
    return prd.original_requirement.strip() or prd.project_name


class WriteDesign(Action):
    name: ClassVar[str] = "WriteDesign"
    output_model: ClassVar[type[OutputModel]] = Design
    input_model: ClassVar[type[ActionInput]] = DesignInput
    max_tokens: ClassVar[int] = 1200
    tiny_max_tokens: ClassVar[int] = 300

    def build_messages(self, inputs: DesignInput, *, tiny: bool = False) -> list[Message]:
        prd = inputs.prd
        requirement = _requirement(prd)
        if tiny:
            user = USER_TINY.format(
                project_name=prd.project_name, requirement=requirement, example=EXAMPLE_TINY
            )
        else:
            user = USER.format(
                project_name=prd.project_name,
                requirement=requirement,
                goals="\n".join(f"- {g}" for g in prd.product_goals) or "- (none)",
                requirements="\n".join(f"- {r.priority} {r.requirement}" for r in prd.requirement_pool)
                or "- (none)",
                example=EXAMPLE,
            )
        return [Message("system", SYSTEM), Message("user", user)]

    def build_json_schema(self) -> dict[str, Any]:
        # the file names' shape is in the schema: a constrained decoder cannot write `src/.heroku()`
        schema: dict[str, Any] = bounded_schema(super().build_json_schema(), max_chars=800, max_items=MAX_FILES)
        files = schema["properties"]["file_list"]
        files["items"] = {"type": "string", "pattern": FILE_NAME_PATTERN, "maxLength": 64}
        files["minItems"] = 1
        return schema

    def check(self, output: Any, inputs: DesignInput, fixes: list[str]) -> list[str]:
        problems = file_list_problems(output.file_list)
        if problems:
            return [f"file_list: {'; '.join(problems[:3])}"]
        return []

    def degrade(self, inputs: DesignInput, *, tiny: bool = False) -> list[Message]:
        user = USER_PLAIN.format(requirement=_requirement(inputs.prd))
        return [
            Message("system", SYSTEM.replace(" Reply with one JSON object and nothing else.", "")),
            Message("user", user),
        ]

    def parse_degraded(self, text: str, inputs: DesignInput) -> Design:
        """The plausible file names of a plain list (implausible lines dropped); at least one .py."""
        from polyteam.actions.parsing import strip_reasoning

        names: list[str] = []
        for line in strip_reasoning(text).splitlines():
            name = clean_path(line)
            if name and name not in names and file_name_problem(name) is None and len(names) < MAX_FILES:
                names.append(name)
        if not any(n.endswith(".py") for n in names):
            raise MalformedReplyError("no plausible .py file name in the list")
        return Design(file_list=names, implementation_approach="(a plain file list: the design was degraded)")

    def last_resort(self, inputs: DesignInput) -> Design:
        """One entry point: the design every requirement admits (marked degraded by the caller)."""
        return Design(
            file_list=["main.py"],
            implementation_approach=f"One module, main.py, for: {_requirement(inputs.prd)[:300]}",
        )
