"""The gates: plausible file names, code that compiles (never run), imports that resolve, bounded schemas."""

from __future__ import annotations

import re

import pytest

from polyteam.actions.gates import (
    FILE_NAME_PATTERN,
    bounded_schema,
    compile_problem,
    file_list_problems,
    file_name_problem,
    import_problems,
    substance_problem,
)


@pytest.mark.parametrize(
    "name", ["main.py", "game/board.py", "snake_game.py", "__init__.py", "README.md", "pkg/sub/a.py"]
)
def test_plausible_names_pass(name: str) -> None:
    assert file_name_problem(name) is None
    if name.endswith(".py") and name.count("/") <= 1:  # the schema asks for Python modules only
        assert re.match(FILE_NAME_PATTERN, name)


@pytest.mark.parametrize(
    "name",
    [
        "src/.heroku()",
        "src/code-goffit1234567890xzjwvg.pymhkd",
        "2023-11-05T10:00:00.000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "my game.py",
        "game.js",
        "a/b/c/d.py",
        "script.py:10",
        "x___y.py",
        "",
    ],
)
def test_nonsense_names_fail(name: str) -> None:
    assert file_name_problem(name) is not None
    if name != "x___y.py":  # the schema's pattern is looser than the gate, which runs after it
        assert not re.match(FILE_NAME_PATTERN, name)


def test_file_list_needs_a_python_file_and_a_sane_size() -> None:
    assert file_list_problems(["README.md"]) == ["file_list has no .py file"]
    assert any("12 or fewer" in p for p in file_list_problems([f"m{i}.py" for i in range(13)]))
    assert file_list_problems(["models.py", "main.py"]) == []


def test_compile_never_runs_the_code(tmp_path: object) -> None:
    assert compile_problem("a.py", "raise SystemExit('ran')\n") is None  # compiled, not executed
    assert "does not compile" in (compile_problem("a.py", "def f(:\n") or "")
    assert compile_problem("notes.md", "def f(:") is None  # only Python is compiled


@pytest.mark.parametrize(
    "code", ["my_game / write_code - main.txt\n", "{'filename', 'main.py'}\n", '"""doc"""\n', ""]
)
def test_compiling_nonsense_has_no_substance(code: str) -> None:
    assert compile_problem("a.py", code) is None
    assert substance_problem("a.py", code) is not None


@pytest.mark.parametrize("code", ["print('hi')\n", "import os\n", "X = 1\n", "def f():\n    pass\n"])
def test_real_modules_have_substance(code: str) -> None:
    assert substance_problem("a.py", code) is None


def test_imports_resolve_to_project_stdlib_or_packages() -> None:
    files = ["models.py", "game/board.py", "main.py"]
    ok = "import os, sys\nimport models\nfrom game.board import Board\nfrom game import board\nimport yaml\nfrom . import models\n"
    assert import_problems("main.py", ok, files, ["PyYAML>=6"]) == []
    bad = import_problems("main.py", "import snakelib\nfrom utils import x\n", files, [])
    assert len(bad) == 1 and "snakelib, utils" in bad[0] and "models.py" in bad[0]


def test_bounded_schema_closes_objects_and_bounds_strings() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "array", "items": {"type": "string"}}},
    }
    out = bounded_schema(schema, max_chars=10, max_items=3)
    assert out["additionalProperties"] is False
    assert out["properties"]["a"]["maxLength"] == 10 and out["properties"]["b"]["maxItems"] == 3
    assert "maxLength" not in schema["properties"]["a"]  # a copy
