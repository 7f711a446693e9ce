"""Gates: checks that catch nonsense in a *valid* reply without running anything.

Owns: plausible file names (`file_name_problem`, `file_list_problems`), Python that compiles
(`compile_problem`: `compile()` only, the code is never executed or imported), imports that
resolve to project files, the standard library or the project's listed packages
(`import_problems`, static, with `ast`), and the JSON-schema fragments that let a constrained
decoder produce only plausible names in the first place (`FILE_NAME_PATTERN`). Each problem is
one short sentence: it becomes the re-ask's message (`GateError`), then the fallback's.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from collections.abc import Iterable
from typing import Any

from polyteam.errors import MalformedReplyError

__all__ = [
    "GateError",
    "bounded_schema",
    "FILE_NAME_PATTERN",
    "MAX_FILES",
    "MAX_PATH_CHARS",
    "SOURCE_EXTENSIONS",
    "file_name_problem",
    "file_list_problems",
    "compile_problem",
    "substance_problem",
    "import_problems",
    "module_names",
    "package_modules",
]

#: the project's language is Python: its sources, and the few text files a project may list
SOURCE_EXTENSIONS = (".py",)
TEXT_EXTENSIONS = (".txt", ".md", ".json", ".toml", ".cfg", ".ini", ".yaml", ".yml", ".csv")
MAX_PATH_CHARS = 64
MAX_FILES = 12
_SEGMENT = r"[A-Za-z_][A-Za-z0-9_]{0,31}"
_FILE_NAME = re.compile(rf"^({_SEGMENT}/){{0,2}}{_SEGMENT}\.(py|txt|md|json|toml|cfg|ini|yaml|yml)$")
#: what the JSON schema asks of each file name, stricter than the gate: lower-case Python modules,
#: no digits (a constrained tiny model otherwise fills names with dates and numbers)
FILE_NAME_PATTERN = r"^([a-z_]{1,24}/)?[a-z_]{1,24}\.py$"
_DIGIT_RUN = re.compile(r"\d{4,}")
_PUNCT_RUN = re.compile(r"[^A-Za-z0-9]{3,}")
#: pip names whose import name differs (the common ones small projects use)
_IMPORT_NAMES = {
    "pillow": "PIL",
    "beautifulsoup4": "bs4",
    "pyyaml": "yaml",
    "scikit_learn": "sklearn",
    "opencv_python": "cv2",
    "python_dateutil": "dateutil",
    "windows_curses": "curses",
}


def bounded_schema(schema: Any, *, max_chars: int = 600, max_items: int = 12) -> Any:
    """A copy of a JSON schema where objects take no extra keys and strings and arrays are bounded.

    A constrained decoder then cannot fill a reply with invented keys or loops until the token cap
    (weak-models.md: 31 of 70 schema replies were cut off). Bounds already set are kept.
    """
    if isinstance(schema, list):
        return [bounded_schema(v, max_chars=max_chars, max_items=max_items) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: bounded_schema(v, max_chars=max_chars, max_items=max_items) for k, v in schema.items()}
    kind = out.get("type")
    if kind == "object" and "properties" in out:
        out.setdefault("additionalProperties", False)
    elif kind == "string" and "enum" not in out and "pattern" not in out:
        out.setdefault("maxLength", max_chars)
    elif kind == "array":
        out.setdefault("maxItems", max_items)
    return out


class GateError(MalformedReplyError):
    """A reply that validated but failed a gate (implausible names, code that does not compile)."""


def file_name_problem(path: str) -> str | None:
    """Why `path` is not a plausible project file name, or None when it is."""
    if not path or len(path) > MAX_PATH_CHARS:
        return f"{path[:40]!r} is {'empty' if not path else 'too long'}"
    if any(c.isspace() for c in path):
        return f"{path!r} holds spaces"
    if _DIGIT_RUN.search(path):
        return f"{path!r} holds a date or a run of digits"
    if _PUNCT_RUN.search(path.rsplit(".", 1)[0]):
        return f"{path!r} holds a run of punctuation"
    if not _FILE_NAME.match(path):
        return f"{path!r} is not a file name like game.py (letters, digits and _, a .py extension)"
    return None


def file_list_problems(files: list[str]) -> list[str]:
    """What is wrong with a design's file list: implausible names, no Python file, too many files."""
    problems = [p for p in (file_name_problem(f) for f in files) if p]
    if not any(f.endswith(SOURCE_EXTENSIONS) for f in files):
        problems.append("file_list has no .py file")
    if len(files) > MAX_FILES:
        problems.append(f"file_list has {len(files)} files; keep it to {MAX_FILES} or fewer")
    return problems


# A file's code is gated when its reply is checked, again in the README's notes and in the quality
# assessment at the run's end: each (name, code) is compiled and parsed once (issue 15).
_CACHED = 256


@functools.lru_cache(maxsize=_CACHED)
def compile_problem(filename: str, code: str) -> str | None:
    """Why a Python file's code does not compile (`compile()` only, never run), or None."""
    if not filename.endswith(".py"):
        return None
    try:
        compile(code, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = (exc.text or "").strip()[:60]
        return f"{filename} does not compile: {exc.msg} at line {exc.lineno}" + (f": {line}" if line else "")
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"{filename} does not compile: {type(exc).__name__}"
    return None


_SUBSTANCE = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Import,
    ast.ImportFrom,
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
    ast.If,
    ast.For,
    ast.While,
    ast.With,
    ast.Try,
    ast.Match,
)


def substance_problem(filename: str, code: str) -> str | None:
    """Why compiling Python is still no module: only bare expressions, no call (None: it has substance).

    Small models write "code" such as `my_game / write_code - main.txt` (a division) or
    `{'filename', 'main.py'}` (a set literal), which compile: "compiles" alone is a weak signal
    (weak-models.md).
    """
    tree = _syntax_tree(filename, code)
    if tree is None:
        return None  # not Python, or compile_problem reports it
    for node in tree.body:
        if isinstance(node, _SUBSTANCE):
            return None
        if isinstance(node, ast.Expr) and any(isinstance(n, ast.Call | ast.Await) for n in ast.walk(node)):
            return None
    return f"{filename} holds only bare expressions (no def, class, import, assignment or call)"


@functools.lru_cache(maxsize=_CACHED)
def _syntax_tree(filename: str, code: str) -> ast.Module | None:
    """The parsed module of a Python file (shared, read only), or None: not Python, or no syntax tree."""
    if not filename.endswith(".py"):
        return None
    try:
        return ast.parse(code, filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def module_names(files: Iterable[str]) -> set[str]:
    """The importable names project files give: `models.py` -> models, `pkg/a.py` -> pkg, pkg.a."""
    names: set[str] = set()
    for f in files:
        if not f.endswith(".py"):
            continue
        dotted = f[:-3].replace("/", ".")
        if dotted.endswith(".__init__"):
            dotted = dotted[: -len(".__init__")]
        parts = dotted.split(".")
        for i in range(1, len(parts) + 1):
            names.add(".".join(parts[:i]))
        names.add(parts[-1])  # run from its own folder, a sibling imports it by its stem
    return names


def package_modules(packages: Iterable[str]) -> set[str]:
    """The import names of pip requirements (`pyyaml>=6` -> yaml, `pygame` -> pygame)."""
    out: set[str] = set()
    for raw in packages:
        name = re.split(r"[<>=!~\[;\s]", raw.strip(), maxsplit=1)[0].lower().replace("-", "_")
        if name:
            out.add(_IMPORT_NAMES.get(name, name))
    return out


def import_problems(
    filename: str, code: str, project_files: Iterable[str], packages: Iterable[str]
) -> list[str]:
    """The imports of a Python file that resolve to no project file, stdlib module or listed package."""
    tree = _syntax_tree(filename, code)
    if tree is None:
        return []  # not Python, or compile_problem reports it
    project = module_names(project_files)
    known = project | package_modules(packages) | set(sys.stdlib_module_names) | {"__future__"}
    bad: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: the module (or each imported name) must be a project file
                names = [node.module] if node.module else [a.name for a in node.names]
                names = [n for n in names if n.split(".")[-1] not in project and n not in project]
                bad.extend(n for n in names if n not in bad)
                continue
            names = [node.module or ""]
        else:
            continue
        for name in names:
            if name and name not in known and name.split(".")[0] not in known and name not in bad:
                bad.append(name)
    if not bad:
        return []
    listed = ", ".join(sorted(f for f in project_files if f.endswith(".py"))[:8]) or "none"
    return [
        f"{filename} imports {', '.join(bad[:4])}: neither a project file ({listed}), "
        "the standard library nor a listed package"
    ]
