"""The Action base class, its typed input, its result, and the re-ask template.

Owns: `Action` (name, output model, input model, token caps, `build_messages`, `json_schema`,
`parse`: candidates -> validation -> gates, and the degraded format of `degrade`/`last_resort`),
`ActionInput`, `ActionResult`, the re-ask template and `outline_code` (the signatures of a
dependency, for prompts that need its interface but not its body). The lenient field types are
`polyteam.actions.fields`'s, the gates `polyteam.actions.gates`'s; running an action against the
gateway (re-ask, fallback, degrading) lives in `polyteam.actions.structured`; each action's prompt
text lives in its own module.
"""

from __future__ import annotations

import ast
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from polyteam.actions.fields import (
    DepList,
    FileList,
    Mermaid,
    OutputModel,
    StrList,
    Text,
    as_code_text,
    as_model,
    clean_path,
    strip_fence,
)
from polyteam.actions.gates import GateError
from polyteam.actions.parsing import json_candidates, strip_reasoning
from polyteam.errors import MalformedReplyError
from polyteam.providers.base import Message

__all__ = [
    "Action",
    "ActionInput",
    "ActionResult",
    "OutputModel",
    "StrList",
    "Text",
    "Mermaid",
    "FileList",
    "DepList",
    "REASK_TEMPLATE",
    "outline_code",
    "summarise_validation_error",
    "clean_path",
    "strip_fence",
    "as_code_text",
    "as_model",
]

#: appended as a user message when a reply did not validate (the system message is unchanged,
#: so the action stays identifiable); the previous reply itself is not sent again
REASK_TEMPLATE = (
    "Your previous reply was not usable: {problem}\n"
    "Reply again with only the complete JSON object, following the shape given above."
)


class ActionInput(BaseModel):
    """Base of an action's typed input (the models of earlier actions are taken as they are)."""

    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True)


def summarise_validation_error(exc: ValidationError, limit: int = 4) -> str:
    """A short, one-line account of what failed validation (for the re-ask and the error)."""
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "reply"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


# --- actions --------------------------------------------------------------------------------


@dataclass
class ActionResult:
    """One action's validated output and what it took to get it."""

    output: OutputModel
    llm: str  # the LLM whose reply was accepted ("" for a degraded output built without one)
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0  # asks (each may hold several retried attempts)
    repairs: int = 0  # replies that needed JSON repair or a non-JSON fallback
    reasks: int = 0  # re-asks after an invalid reply
    fallbacks: int = 0  # moves to another LLM of the chain (provider failure or bad replies)
    gate_failures: int = 0  # valid replies a gate rejected (names, compile, imports)
    degraded: bool = False  # the output is the action's simpler format (`Action.degrade`)
    fixes: list[str] = field(default_factory=list)  # the repairs applied, for the run log
    #: per LLM asked: {"calls", "repairs", "reasks", "gate_failures"} (quality signals)
    by_llm: dict[str, dict[str, int]] = field(default_factory=dict)


class Action(ABC):
    """One step of the team: its prompt (in its module), its input and output models, its token caps."""

    name: ClassVar[str]
    output_model: ClassVar[type[OutputModel]]
    input_model: ClassVar[type[ActionInput]] = ActionInput
    max_tokens: ClassVar[int] = 2048
    #: the cap when the route's endpoint is tiny (`Endpoint.tiny`)
    tiny_max_tokens: ClassVar[int] = 320
    #: a tiny endpoint is asked in plain text (no JSON schema; `from_text` reads the reply)
    plain_when_tiny: ClassVar[bool] = False

    def inputs(self, value: ActionInput | Mapping[str, Any]) -> Any:
        """The typed input from a model or a mapping of its fields (the roles' dicts, state.json)."""
        if isinstance(value, self.input_model):
            return value
        if isinstance(value, BaseModel):
            value = dict(value)
        return self.input_model.model_validate(dict(value))

    @abstractmethod
    def build_messages(self, inputs: Any, *, tiny: bool = False) -> list[Message]:
        """The messages for one call; `tiny` asks for the shortest prompt."""

    def json_schema(self, inputs: Any = None) -> dict[str, Any]:
        """The JSON schema sent with a call (shared: do not mutate). Built once per Action class;
        an action whose schema depends on its inputs overrides `constrain_schema`."""
        cls = type(self)
        schema = _SCHEMAS.get(cls)
        if schema is None:
            schema = _SCHEMAS[cls] = self.build_json_schema()
        return schema if inputs is None else self.constrain_schema(schema, inputs)

    def build_json_schema(self) -> dict[str, Any]:
        """The output model's JSON schema (titles dropped: they only cost tokens); override to adjust."""
        schema: dict[str, Any] = _drop_titles(self.output_model.model_json_schema())
        return schema

    def constrain_schema(self, schema: dict[str, Any], inputs: Any) -> dict[str, Any]:
        """The schema narrowed by this call's inputs (WriteTasks: the design's files). Default: as is."""
        return schema

    def complete_data(self, data: dict[str, Any], inputs: Any, fixes: list[str]) -> dict[str, Any]:
        """Fill what the inputs already know (e.g. the requested file name). Default: unchanged.

        A filling that stands in for something the reply should have said is appended to `fixes`
        (it then counts as a repair).
        """
        return data

    def from_text(self, text: str, inputs: Any) -> dict[str, Any] | None:
        """A last resort for replies with no JSON (WriteCode: a bare code fence). Default: none."""
        return None

    def check(self, output: Any, inputs: Any, fixes: list[str]) -> list[str]:
        """The gates' problems with a valid output ([] when it passes); may note adoptions in `fixes`."""
        return []

    def parse(self, text: str, inputs: Any) -> tuple[OutputModel, list[str]]:
        """Extract, repair, validate and gate one reply: the first candidate that passes wins.

        Raises:
            GateError: a candidate validated but failed a gate (the message says which).
            MalformedReplyError: no candidate validated (the message says why, briefly).
        """
        text = strip_reasoning(text) if isinstance(text, str) else ""
        problem = gate = ""
        candidates = ((c.value, list(c.fixes)) for c in json_candidates(text))
        for data, fixes in _then(candidates, self.from_text(text, inputs)):
            try:
                output = self.output_model.model_validate(self.complete_data(dict(data), inputs, fixes))
            except ValidationError as exc:
                problem = problem or summarise_validation_error(exc)
                continue
            gated = self.check(output, inputs, fixes)
            if gated:
                gate = gate or "; ".join(gated)
                continue
            return output, fixes
        if gate:
            raise GateError(gate)
        snippet = " ".join(text.split())[:80]
        raise MalformedReplyError(problem or f"no JSON object in the reply (starts: {snippet!r})")

    # -- the simpler format, when every LLM's replies stayed invalid --------------------------------
    def degrade(self, inputs: Any, *, tiny: bool = False) -> list[Message] | None:
        """The messages of a simpler request (e.g. a plain list of file names); None: there is none."""
        return None

    def parse_degraded(self, text: str, inputs: Any) -> OutputModel:
        """The output from a reply to `degrade`'s request.

        Raises: MalformedReplyError: the reply holds nothing usable.
        """
        raise MalformedReplyError(f"{self.name} has no simpler format")

    def last_resort(self, inputs: Any) -> OutputModel | None:
        """An output built from the inputs alone (e.g. a minimal PRD from the requirement's words)."""
        return None


def _then(candidates: Any, fallback: dict[str, Any] | None) -> Any:
    yield from candidates
    if fallback is not None:
        yield fallback, ["no JSON: used the fenced block"]


#: Action class -> its JSON schema (pydantic rebuilds a schema on every model_json_schema call)
_SCHEMAS: dict[type[Action], dict[str, Any]] = {}


def _drop_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _drop_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_drop_titles(v) for v in schema]
    return schema


def outline_code(code: str, max_lines: int = 40) -> str:
    """The public interface of a Python module: top-level defs and classes with their signatures.

    Falls back to the first `max_lines` lines when the code does not parse.
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return "\n".join(code.splitlines()[:max_lines])
    lines: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines.append(_signature(node, ""))
        elif isinstance(node, ast.ClassDef):
            bases = ", ".join(ast.unparse(b) for b in node.bases)
            lines.append(f"class {node.name}({bases}):" if bases else f"class {node.name}:")
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                    not item.name.startswith("_") or item.name == "__init__"
                ):
                    lines.append(_signature(item, "    "))
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    lines.append(f"    {item.target.id}: {ast.unparse(item.annotation)}")
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()]
            lines.extend(f"{n} = ..." for n in names)
    return "\n".join(lines[: max_lines * 2]) or "# (no public definitions)"


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef, indent: str) -> str:
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{indent}{prefix} {node.name}({ast.unparse(node.args)}){returns}: ..."
