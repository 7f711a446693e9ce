"""WriteCodeReview (Engineer): one file's review (`CodeReview`): findings and LGTM/LBTM.

Owns the review prompt and `CodeReview`. The reviewer sees the file, its logic analysis, the
relevant interfaces of the design and the outlines (signatures) of the files it depends on:
enough to check imports and calls, at a fraction of the tokens of their full code. How many
review rounds run (`CODE_REVIEW_K`) is the team's decision.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import field_validator, model_validator

from polyteam.actions.base import Action, ActionInput, OutputModel, StrList, as_code_text, outline_code
from polyteam.actions.gates import bounded_schema
from polyteam.actions.write_code import CodeInput, FileBrief, code_problems
from polyteam.providers.base import Message

SYSTEM = (
    "You are Engineer running WriteCodeReview. You review one Python file for bugs, missing "
    "features and wrong use of the files it imports. Reply with one JSON object and nothing else."
)

EXAMPLE = '{"filename": "game.py", "findings": ["..."], "verdict": "LGTM", "corrected_code": null}'

USER = """File: {filename}
This file: {description}
Depends on: {depends_on}
Interfaces (Mermaid):
{interfaces}
{dependency_outlines}Code:
```python
{code}
```
Review the code against its task and the interfaces it uses. Reply as one JSON object: {example}
verdict is LGTM when the file is correct and complete; otherwise LBTM, and corrected_code holds the
whole corrected file."""

USER_TINY = """File: {filename}
Code:
```python
{code}
```
Reply as JSON: {example}"""

#: the interface of one dependency, as quoted into the prompt
DEPENDENCY = """Interface of {name}:
```python
{outline}
```
"""

MARKDOWN = """# Code review: {filename}

**Verdict: {verdict}**

## Findings
{findings}
"""

CORRECTED = """
## Corrected code
```python
{code}```
"""

_LGTM = ("lgtm", "looks good", "approve", "approved", "pass", "ok", "good")
_LBTM = ("lbtm", "reject", "rejected", "fail", "changes", "needs", "bad", "fix")


class CodeReview(OutputModel):
    """One review round of one file."""

    aliases: ClassVar[dict[str, str]] = {
        "file": "filename",
        "comments": "findings",
        "issues": "findings",
        "review": "findings",
        "result": "verdict",
        "decision": "verdict",
        "code": "corrected_code",
        "fixed_code": "corrected_code",
    }

    filename: str = ""
    findings: StrList = []
    verdict: Literal["LGTM", "LBTM"]
    corrected_code: str | None = None

    @field_validator("verdict", mode="before")
    @classmethod
    def _verdict(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "LGTM" if value else "LBTM"
        if isinstance(value, str):
            text = value.strip().lower()
            for words, verdict in (
                (("lbtm",), "LBTM"),
                (("lgtm",), "LGTM"),
                (_LBTM, "LBTM"),
                (_LGTM, "LGTM"),
            ):
                if any(re.search(rf"\b{re.escape(w)}\b", text) for w in words):
                    return verdict
        return value

    @field_validator("corrected_code", mode="before")
    @classmethod
    def _code(cls, value: Any) -> Any:
        value = as_code_text(value)
        return None if value == "" else value

    @model_validator(mode="after")
    def _lbtm_needs_code(self) -> CodeReview:
        if self.verdict == "LBTM" and not self.corrected_code:
            raise ValueError("verdict LBTM needs corrected_code holding the whole corrected file")
        return self

    def to_markdown(self) -> str:
        text = MARKDOWN.format(
            filename=self.filename,
            verdict=self.verdict,
            findings="\n".join(f"- {f}" for f in self.findings) or "- (none)",
        )
        if self.verdict == "LBTM" and self.corrected_code:
            text += CORRECTED.format(code=self.corrected_code)
        return text

    def round_markdown(self) -> str:
        """This review as one round of a file's review page: no file heading, sections one level down."""
        body = self.to_markdown().split("\n", 1)[1]  # drop "# Code review: <file>": the page has one
        return body.replace("\n## ", "\n### ")


class ReviewInput(CodeInput):
    """WriteCodeReview's input: WriteCode's, plus the code under review."""

    code: str


class WriteCodeReview(Action):
    name: ClassVar[str] = "WriteCodeReview"
    output_model: ClassVar[type[OutputModel]] = CodeReview
    input_model: ClassVar[type[ActionInput]] = ReviewInput
    # a verdict and findings are a few hundred tokens; an LBTM's corrected file is the rest (issue 11:
    # every in-flight call reserves its full max_tokens, so 3000 here stopped $2 budgets at $0.38)
    max_tokens: ClassVar[int] = 1600
    tiny_max_tokens: ClassVar[int] = 300

    def build_messages(self, inputs: ReviewInput, *, tiny: bool = False) -> list[Message]:
        filename = inputs.filename
        code = inputs.code.rstrip("\n")
        example = EXAMPLE.replace("game.py", filename)
        if tiny:
            user = USER_TINY.format(filename=filename, code=code, example=example)
            return [Message("system", SYSTEM), Message("user", user)]
        brief = FileBrief.from_inputs(inputs)
        outlines = "".join(
            DEPENDENCY.format(name=name, outline=outline_code(dep_code))
            for name, dep_code in brief.dependencies.items()
        )
        user = USER.format(
            filename=filename,
            description=brief.description,
            depends_on=brief.depends_on,
            interfaces=brief.interfaces,
            dependency_outlines=outlines,
            code=code,
            example=example,
        )
        return [Message("system", SYSTEM), Message("user", user)]

    def build_json_schema(self) -> dict[str, Any]:
        schema = super().build_json_schema()
        findings = schema["properties"]["findings"]
        schema["properties"]["findings"] = bounded_schema(findings, max_chars=300, max_items=8)
        schema["additionalProperties"] = False
        return schema

    def complete_data(self, data: dict[str, Any], inputs: ReviewInput, fixes: list[str]) -> dict[str, Any]:
        data["filename"] = inputs.filename
        return data

    def check(self, output: Any, inputs: ReviewInput, fixes: list[str]) -> list[str]:
        # corrected code replaces the file: it must pass the gates the file passed
        if output.verdict == "LBTM" and output.corrected_code:
            return [
                f"corrected_code: {p}" for p in code_problems(inputs, inputs.filename, output.corrected_code)
            ]
        return []
