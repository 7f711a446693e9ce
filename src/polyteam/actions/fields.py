"""The lenient field types the action output models share, and `OutputModel`.

Owns: coercing field types (`StrList`, `Text`, `Mermaid`, `FileList`, `DepList`, `as_code_text`,
`clean_path`, `strip_fence`) and `OutputModel` (unknown keys ignored, keys normalised:
"Product Goals" -> product_goals, `aliases` mapped). What a valid value *means* (plausible file
names, code that compiles) is `polyteam.actions.gates`'s.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

__all__ = [
    "OutputModel",
    "StrList",
    "Text",
    "Mermaid",
    "FileList",
    "DepList",
    "clean_path",
    "strip_fence",
    "as_code_text",
    "as_model",
]

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
    # camelCase too: a recorded SmolLM2 PRD wrote "projectName" and "productGoals"
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(key).strip())
    return re.sub(r"[\s\-/]+", "_", spaced).lower()


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


def as_model(value: Any, model: type[OutputModel]) -> Any:
    """An output model instance from an instance or its JSON dict (as saved in state.json)."""
    if isinstance(value, model):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    return model.model_validate(value)
