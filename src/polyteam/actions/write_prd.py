"""WritePRD (ProductManager): the requirement -> a product requirement document (`PRD`).

Owns the PRD prompt, the `PRD` model (with lenient coercions for the requirement pool) and
its Markdown rendering.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from polyteam.actions.base import Action, ActionInput, OutputModel, StrList, Text
from polyteam.actions.gates import bounded_schema
from polyteam.providers.base import Message

#: what a project name must look like: short snake_case (the gate)
_PROJECT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
#: what the JSON schema asks, stricter: no digits, at most 30 characters (a recorded SmolLM2 reply under
#: a looser pattern: "myapp1234567890123pythonwebdevsxzljfvhkq")
PROJECT_NAME_PATTERN = r"^[a-z][a-z_]{1,29}$"

SYSTEM = (
    "You are ProductManager running WritePRD. You turn a one-line requirement into a short, "
    "concrete product requirement document. Reply with one JSON object and nothing else."
)

EXAMPLE = (
    '{"project_name": "snake_game", "original_requirement": "...", '
    '"product_goals": ["..."], "user_stories": ["As a player, I want ... so that ..."], '
    '"requirement_pool": [{"requirement": "...", "priority": "P0"}], '
    '"ui_design_notes": "...", "open_questions": []}'
)

USER = """Requirement: {requirement}

Write the PRD as one JSON object of this shape:
{example}
Rules: project_name is short snake_case; 3-5 product_goals; 3-6 user_stories; requirement_pool
priorities are P0 (must have), P1 (should), P2 (nice to have); open_questions may be []."""

USER_TINY = """Requirement: {requirement}
Reply with JSON like: {example}"""

EXAMPLE_TINY = '{"project_name": "snake_game", "product_goals": ["..."], "user_stories": ["..."]}'

MARKDOWN = """# {project_name}

## Original requirement
{original_requirement}

## Product goals
{product_goals}

## User stories
{user_stories}

## Requirement pool
| Priority | Requirement |
| --- | --- |
{requirement_rows}

## UI design notes
{ui_design_notes}

## Open questions
{open_questions}
"""

_PRIORITY_WORDS = {
    "p0": "P0",
    "must": "P0",
    "high": "P0",
    "critical": "P0",
    "p1": "P1",
    "should": "P1",
    "medium": "P1",
    "normal": "P1",
    "p2": "P2",
    "nice": "P2",
    "low": "P2",
    "could": "P2",
    "0": "P0",
    "1": "P1",
    "2": "P2",
}


def _priority(value: Any) -> str:
    text = str(value).strip().lower() if value is not None else ""
    if text in _PRIORITY_WORDS:
        return _PRIORITY_WORDS[text]
    m = re.search(r"p\s*([012])", text)
    if m:
        return f"P{m.group(1)}"
    for word, prio in _PRIORITY_WORDS.items():
        if word.isalpha() and len(word) > 2 and word in text:
            return prio
    return "P1"


class RequirementItem(BaseModel):
    """One entry of the requirement pool."""

    model_config = ConfigDict(extra="ignore")

    requirement: str
    priority: Literal["P0", "P1", "P2"] = "P1"

    @model_validator(mode="before")
    @classmethod
    def _coerce(cls, data: Any) -> Any:
        # ["req", "P0"] pairs, "P0: req" strings, and dicts with other key names
        if isinstance(data, list | tuple) and data:
            return {"requirement": str(data[0]), "priority": data[1] if len(data) > 1 else "P1"}
        if isinstance(data, str):
            m = re.match(r"\s*\(?(P[012])\)?\s*[:\-]\s*(.+)", data, re.IGNORECASE)
            if m:
                return {"requirement": m.group(2).strip(), "priority": m.group(1)}
            return {"requirement": data.strip()}
        if isinstance(data, dict):
            lowered = {str(k).strip().lower(): v for k, v in data.items()}
            req = lowered.get("requirement") or lowered.get("description") or lowered.get("name")
            if req is None:
                req = next((v for v in lowered.values() if isinstance(v, str)), "")
            return {"requirement": req, "priority": lowered.get("priority", "P1")}
        return data

    @field_validator("priority", mode="before")
    @classmethod
    def _norm_priority(cls, value: Any) -> str:
        return _priority(value)


class PRD(OutputModel):
    """The product requirement document."""

    aliases: ClassVar[dict[str, str]] = {
        "name": "project_name",
        "project": "project_name",
        "original_requirements": "original_requirement",
        "requirement": "original_requirement",
        "goals": "product_goals",
        "requirements_pool": "requirement_pool",
        "requirements": "requirement_pool",
        "ui_design_draft": "ui_design_notes",
        "ui_notes": "ui_design_notes",
        "anything_unclear": "open_questions",
        "questions": "open_questions",
    }

    project_name: str
    original_requirement: Text = ""
    product_goals: StrList = []
    user_stories: StrList = []
    requirement_pool: list[RequirementItem] = []
    ui_design_notes: Text = ""
    open_questions: StrList = []

    @field_validator("project_name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().strip("`'\"").strip()
            if not value:
                raise ValueError("project_name is empty")
        return value

    @field_validator("requirement_pool", mode="before")
    @classmethod
    def _pool(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [ln for ln in value.splitlines() if ln.strip()]
        if isinstance(value, dict):  # {"requirement": "P0", ...}
            return [{"requirement": k, "priority": v} for k, v in value.items()]
        return value

    def to_markdown(self) -> str:
        rows = "\n".join(f"| {r.priority} | {_cell(r.requirement)} |" for r in self.requirement_pool)
        return MARKDOWN.format(
            project_name=self.project_name,
            original_requirement=self.original_requirement or "-",
            product_goals=_bullets(self.product_goals),
            user_stories=_bullets(self.user_stories),
            requirement_rows=rows or "| - | - |",
            ui_design_notes=self.ui_design_notes or "-",
            open_questions=_bullets(self.open_questions),
        )


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {i}" for i in items) if items else "- (none)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class PRDInput(ActionInput):
    """WritePRD's input: the user's requirement."""

    requirement: str


def project_name_from(text: str) -> str:
    """A snake_case project name from words (`Snake Game!` -> snake_game), "" when none fits."""
    words = re.findall(r"[a-z][a-z0-9]*", re.sub(r"\d{4,}", " ", text.lower()))
    name = "_".join(words[:4])[:40].strip("_")
    return name if _PROJECT_NAME.match(name) and not re.search(r"\d{4,}", name) else ""


_FILLER = {"a", "an", "the", "write", "make", "build", "create", "please", "simple", "small", "me"}


class WritePRD(Action):
    name: ClassVar[str] = "WritePRD"
    output_model: ClassVar[type[OutputModel]] = PRD
    input_model: ClassVar[type[ActionInput]] = PRDInput
    max_tokens: ClassVar[int] = 1000
    tiny_max_tokens: ClassVar[int] = 300

    def build_messages(self, inputs: PRDInput, *, tiny: bool = False) -> list[Message]:
        requirement = inputs.requirement.strip()
        if tiny:
            user = USER_TINY.format(requirement=requirement, example=EXAMPLE_TINY)
        else:
            user = USER.format(requirement=requirement, example=EXAMPLE)
        return [Message("system", SYSTEM), Message("user", user)]

    def build_json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = bounded_schema(super().build_json_schema(), max_chars=300, max_items=6)
        schema["properties"]["project_name"].update(pattern=PROJECT_NAME_PATTERN, maxLength=30)
        return schema

    def complete_data(self, data: dict[str, Any], inputs: PRDInput, fixes: list[str]) -> dict[str, Any]:
        keys = {k.strip().lower().replace(" ", "_") for k in data}
        if not keys & {"original_requirement", "original_requirements", "requirement"}:
            data["original_requirement"] = inputs.requirement
        return data

    def check(self, output: Any, inputs: PRDInput, fixes: list[str]) -> list[str]:
        name = output.project_name
        if _PROJECT_NAME.match(name) and not re.search(r"\d{4,}", name):
            return []
        fixed = project_name_from(name) if len(name) <= 60 else ""
        if fixed:
            output.project_name = fixed
            fixes.append("project name made snake_case")
            return []
        return [f"project_name {name[:40]!r} is not a short snake_case name like snake_game"]

    def last_resort(self, inputs: PRDInput) -> PRD:
        """A minimal PRD from the requirement's own words (marked degraded by the caller)."""
        requirement = " ".join(inputs.requirement.split())
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9]*", requirement) if w.lower() not in _FILLER]
        name = project_name_from(" ".join(words)) or "project"
        return PRD(
            project_name=name,
            original_requirement=requirement,
            product_goals=[requirement],
            user_stories=[f"As a user, I want this: {requirement[:200]}"],
            requirement_pool=[RequirementItem(requirement=requirement[:300], priority="P0")],
        )
