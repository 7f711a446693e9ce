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

from polyteam.actions.base import Action, ActionInput, OutputModel, as_code_text, outline_code
from polyteam.actions.gates import compile_problem, import_problems, substance_problem
from polyteam.actions.parsing import extract_code_block, strip_reasoning
from polyteam.actions.write_design import Design
from polyteam.actions.write_tasks import Tasks
from polyteam.errors import MalformedReplyError
from polyteam.providers.base import Message

SYSTEM = (
    "You are Engineer running WriteCode. You write one complete, working Python file at a time, "
    "consistent with the design and with the code of the files it imports. Reply with one JSON "
    "object and nothing else."
)


EXAMPLE = '{"filename": "game.py", "code": "\\"\\"\\"Game state.\\"\\"\\"\\nimport random\\n..."}'

USER = """Requirement: {requirement}
File: {filename}
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

#: a tiny model writes the code as a bare python block, not JSON (`Action.plain_when_tiny`): recorded
#: SmolLM2 replies under the grammar were never usable code, its plain replies compiled (tests/data/)
USER_TINY = """Requirement: {requirement}
File: {filename}
This file: {description}
Depends on: {depends_on}
{dependency_code}
Reply with only the complete code of {filename}, in one ```python block."""

#: the simpler format, when no LLM's JSON reply held up: the code alone
USER_PLAIN = """Requirement: {requirement}
Write the complete Python code of {filename} ({description}).
Reply with only the code, in one ```python block."""

#: the last resort: a file that compiles and says what is missing (marked degraded)
STUB = '''"""{filename}: {description}

Not written: no model's reply for this file held valid Python (see the run summary).
"""
'''

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
    def from_inputs(cls, inputs: Any) -> FileBrief:
        """From an action's typed input: `filename`, `design`, `tasks` and `dependencies`."""
        task = inputs.tasks.task_for(inputs.filename)
        return cls(
            filename=inputs.filename,
            design=inputs.design,
            tasks=inputs.tasks,
            dependencies=dict(inputs.dependencies),
            description=(task.description if task else "") or "see the design",
            deps=task.depends_on if task else sorted(inputs.dependencies),
        )

    @property
    def depends_on(self) -> str:
        return ", ".join(self.deps) or "none"

    @property
    def interfaces(self) -> str:
        """The part of the design's class diagram this file touches ("-" when there is none)."""
        names = interface_names(self.filename, self.description, self.deps)
        return relevant_interfaces(self.design.data_structures_and_interfaces, names) or "-"


class CodeInput(ActionInput):
    """WriteCode's input: the design, the tasks, the file, its dependencies' code, the requirement."""

    design: Design
    tasks: Tasks
    filename: str
    dependencies: dict[str, str] = {}
    requirement: str = ""

    def project_files(self) -> list[str]:
        return list(dict.fromkeys([*self.design.file_list, *self.tasks.task_list]))

    def packages(self) -> list[str]:
        return [*self.tasks.required_packages, *self.design.third_party_packages]


def code_problems(inputs: Any, filename: str, code: str) -> list[str]:
    """The gates a file's code must pass: it compiles, its imports resolve (nothing is run)."""
    problem = compile_problem(filename, code) or substance_problem(filename, code)
    if problem:
        return [problem]
    return import_problems(filename, code, inputs.project_files(), inputs.packages())


def _requirement(inputs: Any) -> str:
    return " ".join(str(getattr(inputs, "requirement", "")).split())[:400] or "see the design"


class WriteCode(Action):
    name: ClassVar[str] = "WriteCode"
    output_model: ClassVar[type[OutputModel]] = CodeFile
    input_model: ClassVar[type[ActionInput]] = CodeInput
    max_tokens: ClassVar[int] = 2500  # one file of a small project
    tiny_max_tokens: ClassVar[int] = 400
    plain_when_tiny: ClassVar[bool] = True

    def build_json_schema(self) -> dict[str, Any]:
        # constrained decoders (llama.cpp) otherwise let a weak model close the string at once:
        # an empty file is never a valid answer
        schema = super().build_json_schema()
        schema["properties"]["code"]["minLength"] = MIN_CODE_CHARS
        schema["required"] = ["code"]
        schema["additionalProperties"] = False
        return schema

    def build_messages(self, inputs: CodeInput, *, tiny: bool = False) -> list[Message]:
        brief = FileBrief.from_inputs(inputs)
        design, tasks, filename = brief.design, brief.tasks, brief.filename
        quoted = "".join(
            DEPENDENCY_TINY.format(name=name, code=outline_code(code))
            if tiny
            else DEPENDENCY.format(name=name, code=code.rstrip("\n"))
            for name, code in brief.dependencies.items()
        )
        dependency_code = DEPENDENCY_HEAD + quoted if quoted else ""
        example = EXAMPLE
        if tiny:
            user = USER_TINY.format(
                requirement=_requirement(inputs),
                filename=filename,
                description=brief.description,
                depends_on=brief.depends_on,
                dependency_code=dependency_code,
            )
        else:
            user = USER.format(
                requirement=_requirement(inputs),
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

    def complete_data(self, data: dict[str, Any], inputs: CodeInput, fixes: list[str]) -> dict[str, Any]:
        # the file the team asked for is the file written, whatever name the reply gives
        data["filename"] = inputs.filename
        return data

    def from_text(self, text: str, inputs: CodeInput) -> dict[str, Any] | None:
        # a fenced block, else the whole reply when it is no JSON (the gates then judge it as code)
        code = extract_code_block(text)
        if code is None and text.strip() and not text.lstrip().startswith(("{", "[")):
            code = text
        return None if code is None else {"filename": inputs.filename, "code": code}

    def check(self, output: Any, inputs: CodeInput, fixes: list[str]) -> list[str]:
        return code_problems(inputs, inputs.filename, output.code)

    def degrade(self, inputs: CodeInput, *, tiny: bool = False) -> list[Message]:
        brief = FileBrief.from_inputs(inputs)
        user = USER_PLAIN.format(
            requirement=_requirement(inputs), filename=inputs.filename, description=brief.description[:300]
        )
        return [Message("system", SYSTEM.split(" Reply with")[0]), Message("user", user)]

    def parse_degraded(self, text: str, inputs: CodeInput) -> CodeFile:
        """The code of a plain reply (its fenced block, else the whole text) if it compiles."""
        text = strip_reasoning(text)
        code = as_code_text(extract_code_block(text) or text)
        if not code:
            raise MalformedReplyError("the reply holds no code")
        problem = compile_problem(inputs.filename, code) or substance_problem(inputs.filename, code)
        if problem:
            raise MalformedReplyError(problem)
        return CodeFile(filename=inputs.filename, code=code)

    def last_resort(self, inputs: CodeInput) -> CodeFile:
        """A file that compiles and says it was not written (marked degraded by the caller)."""
        description = " ".join(FileBrief.from_inputs(inputs).description.split())[:200]
        description = description.replace("\\", "/").replace('"', "'")
        if inputs.filename.endswith(".py"):
            code = STUB.format(filename=inputs.filename, description=description)
        else:
            code = f"{inputs.filename}: {description}\nNot written: no model's reply held usable text.\n"
        return CodeFile(filename=inputs.filename, code=code)
