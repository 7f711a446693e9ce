"""The Action base class, its result, and the lenient field types the output models share.

Owns: `Action` (name, role, output model, token caps, `build_messages`, `parse`), `ActionResult`,
`OutputModel` (key normalisation: "Product Goals" -> product_goals), coercing field types
(`StrList`, `Text`, `Mermaid`, `FileList`, `DepList`, `as_code_text`), the re-ask template, and `outline_code`
(the signatures of a dependency, for prompts that need its interface but not its body).
Running an action against the gateway (re-ask, fallback) lives in `polyteam.actions.structured`;
each action's prompt text lives in its own module.
"""

from __future__ import annotations

import ast
import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator

from polyteam.actions.parsing import extract_json
from polyteam.errors import MalformedReplyError
from polyteam.providers.base import Message

__all__ = [
    "Action",
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
]

#: appended as a user message when a reply did not validate (the system message is unchanged,
#: so the action stays identifiable); the previous reply itself is not sent again
REASK_TEMPLATE = (
    "Your previous reply was not usable: {problem}\n"
    "Reply again with only the complete JSON object, following the shape given above."
)

# --- lenient field types --------------------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_FENCED = re.compile(r"^\s*```[^\n]*\n(.*?)\n?\s*```\s*$", re.DOTALL)


def _item_text(item: Any) -> str:
    if item is None:
        return ""
    if isinstance(item, str):
        return item.strip()
    if isinstance(item, dict):
        return "; ".join(_item_text(v) for v in item.values() if _item_text(v))
    if isinstance(item, list | tuple):
        return " ".join(_item_text(v) for v in item if _item_text(v))
    return str(item)


def _as_str_list(value: Any) -> Any:
    """A string where a list is expected becomes [string] (one per bullet line when it has several)."""
    if value is None:
        return []
    if isinstance(value, str):
        lines = [ln for ln in value.splitlines() if ln.strip()]
        if len(lines) > 1 and all(_BULLET.match(ln) for ln in lines):
            return [_BULLET.sub("", ln).strip() for ln in lines]
        return [value.strip()] if value.strip() else []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [t for t in (_item_text(v) for v in value) if t]
    return [str(value)]


def _as_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "\n".join(v.rstrip() if isinstance(v, str) else _item_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool | int | float):
        return str(value)
    return value


def strip_fence(text: str) -> str:
    """The body of a text that is one fenced block as a whole (```lang ... ```), else the text."""
    m = _FENCED.match(text)
    return m.group(1) if m else text


def as_code_text(value: Any) -> Any:
    """A whole file's code as models write it: lines joined, one enclosing fence stripped, a final
    newline added; "" when it holds nothing. Anything else is left for validation to reject."""
    if isinstance(value, list):
        value = "\n".join(str(v) for v in value)
    if isinstance(value, str):
        value = strip_fence(value)
        if not value.strip():
            return ""
        if not value.endswith("\n"):
            value += "\n"
    return value


def _as_mermaid(value: Any) -> Any:
    text = _as_text(value)
    return strip_fence(text).strip() if isinstance(text, str) else text


def clean_path(entry: str) -> str:
    """A file name as models write it, cleaned: bullets, backticks, quotes, `./`, trailing notes."""
    text = _BULLET.sub("", entry.strip()).strip().strip("`'\"").strip()
    if re.search(r"\s", text):
        first = re.split(r"\s+", text, maxsplit=1)[0].rstrip(":,;").strip("`'\"")
        if "." in first or "/" in first:
            text = first
    while text.startswith("./"):
        text = text[2:]
    return text.rstrip(":,;").strip()


def _as_file_list(value: Any) -> Any:
    if isinstance(value, dict):
        value = (
            list(value.keys()) if all(isinstance(v, str) for v in value.values()) else list(value.values())
        )
    if isinstance(value, list | tuple):
        items = []
        for v in value:
            if isinstance(v, dict):
                v = v.get("file") or v.get("filename") or v.get("path") or v.get("name") or _item_text(v)
            elif isinstance(v, list | tuple):
                v = v[0] if v else ""
            items.append(_item_text(v))
        value = items
    elif isinstance(value, str) and "\n" not in value.strip() and "," in value:
        value = value.split(",")
    out: list[str] = []
    for raw in _as_str_list(value):
        path = clean_path(raw)
        if path and path not in out:
            out.append(path)
    return out


def _as_dep_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        value = re.split(r"[,\s]+", value)
    out: list[str] = []
    for raw in _as_file_list(value):
        if raw.lower() in ("none", "nothing", "n/a", "-", "[]"):
            continue
        if raw not in out:
            out.append(raw)
    return out


StrList = Annotated[list[str], BeforeValidator(_as_str_list)]
Text = Annotated[str, BeforeValidator(_as_text)]
Mermaid = Annotated[str, BeforeValidator(_as_mermaid)]
FileList = Annotated[list[str], BeforeValidator(_as_file_list)]
DepList = Annotated[list[str], BeforeValidator(_as_dep_list)]


def _norm_key(key: str) -> str:
    return re.sub(r"[\s\-/]+", "_", str(key).strip()).lower()


class OutputModel(BaseModel):
    """Base of the action outputs: unknown keys ignored, keys normalised, `aliases` mapped."""

    model_config = ConfigDict(extra="ignore")
    #: normalised alternative key -> field name (what models write instead of ours)
    aliases: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _normalise_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        for key, value in data.items():
            norm = _norm_key(key)
            name = norm if norm in cls.model_fields else cls.aliases.get(norm, norm)
            if name not in out or out[name] in (None, "", []):
                out[name] = value
        return out

    def to_markdown(self) -> str:  # pragma: no cover - every output model overrides it
        raise NotImplementedError


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
    llm: str  # the LLM whose reply was accepted
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0  # gateway.ask calls (each may hold several retried attempts)
    repairs: int = 0  # replies that needed JSON repair or a non-JSON fallback
    reasks: int = 0  # re-asks after an invalid reply
    fallbacks: int = 0  # moves to another LLM of the chain (provider failure or bad replies)
    fixes: list[str] = field(default_factory=list)  # the repairs applied, for the run log


class Action(ABC):
    """One step of the team: its prompt (in its module), its output model, its token caps."""

    name: ClassVar[str]
    role: ClassVar[str]
    output_model: ClassVar[type[OutputModel]]
    max_tokens: ClassVar[int] = 2048
    #: the cap when the route's endpoint is tiny (`Endpoint.tiny`)
    tiny_max_tokens: ClassVar[int] = 320

    @abstractmethod
    def build_messages(self, *, tiny: bool = False, **inputs: Any) -> list[Message]:
        """The messages for one call; `tiny` asks for the shortest prompt."""

    def json_schema(self) -> dict[str, Any]:
        """The JSON schema sent with every call, built once per Action class (shared: do not mutate)."""
        cls = type(self)
        schema = _SCHEMAS.get(cls)
        if schema is None:
            schema = _SCHEMAS[cls] = self.build_json_schema()
        return schema

    def build_json_schema(self) -> dict[str, Any]:
        """The output model's JSON schema (titles dropped: they only cost tokens); override to adjust."""
        return _drop_titles(self.output_model.model_json_schema())

    def complete_data(self, data: dict[str, Any], inputs: dict[str, Any], fixes: list[str]) -> dict[str, Any]:
        """Fill what the inputs already know (e.g. the requested file name). Default: unchanged.

        A filling that stands in for something the reply should have said is appended to `fixes`
        (it then counts as a repair).
        """
        return data

    def from_text(self, text: str, inputs: dict[str, Any]) -> dict[str, Any] | None:
        """A last resort for replies with no JSON (WriteCode: a bare code fence). Default: none."""
        return None

    def parse(self, text: str, inputs: dict[str, Any]) -> tuple[OutputModel, list[str]]:
        """Extract, repair and validate one reply; returns the output and the repairs applied.

        Raises:
            MalformedReplyError: the reply holds no valid output (the message says why, briefly).
        """
        candidates: list[tuple[dict[str, Any], list[str]]] = []
        problem = ""
        try:
            extracted = extract_json(text)
            candidates.append((extracted.value, list(extracted.fixes)))
        except MalformedReplyError as exc:
            problem = str(exc)
        fallback = self.from_text(text, inputs)
        if fallback is not None:
            candidates.append((fallback, ["no JSON: used the fenced block"]))
        for data, fixes in candidates:
            try:
                completed = self.complete_data(dict(data), inputs, fixes)
                return self.output_model.model_validate(completed), fixes
            except ValidationError as exc:
                problem = problem or summarise_validation_error(exc)
        raise MalformedReplyError(problem or "no usable output in the reply")


#: Action class -> its JSON schema (pydantic rebuilds a schema on every model_json_schema call)
_SCHEMAS: dict[type[Action], dict[str, Any]] = {}


def _drop_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _drop_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_drop_titles(v) for v in schema]
    return schema


def as_model(value: Any, model: type[OutputModel]) -> Any:
    """An output model instance from an instance or its JSON dict (as saved in state.json)."""
    if isinstance(value, model):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    return model.model_validate(value)


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
