"""JSON extraction and repair of untrusted replies (polyteam.actions.parsing)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyteam.actions.parsing import extract_code_block, extract_json, repair_json
from polyteam.errors import MalformedReplyError

# --- examples of each kind of breakage ------------------------------------------------------

EXAMPLES: list[tuple[str, str, dict[str, Any], str | None]] = [
    ("bare", '{"a": 1, "b": [true, null]}', {"a": 1, "b": [True, None]}, None),
    ("fenced", 'Here it is:\n```json\n{"a": "x"}\n```\nBye', {"a": "x"}, None),
    ("fence without language", '```\n{"a": 2}\n```', {"a": 2}, None),
    ("content tags", '[CONTENT]\n{"a": {"b": 2}}\n[/CONTENT]', {"a": {"b": 2}}, None),
    ("text before and after", 'Sure! The PRD: {"a": 1} Hope this helps.', {"a": 1}, None),
    (
        "trailing commas",
        '{"a": [1, 2,], "b": {"c": 3,},}',
        {"a": [1, 2], "b": {"c": 3}},
        "trailing commas removed",
    ),
    ("single quotes", "{'a': 'it\\'s', 'b': ['x']}", {"a": "it's", "b": ["x"]}, "single quotes converted"),
    ("line comments", '{\n  "a": 1, // the first\n  "b": 2\n}', {"a": 1, "b": 2}, "comments removed"),
    ("block comments", '{/* head */ "a": /* inline */ 1}', {"a": 1}, "comments removed"),
    ("raw newlines and tabs", '{"code": "def f():\n\treturn 1\n"}', {"code": "def f():\n\treturn 1\n"}, None),
    (
        "python literals",
        "{'ok': True, 'bad': False, 'none': None}",
        {"ok": True, "bad": False, "none": None},
        None,
    ),
    (
        "truncated string",
        '{"a": [1, 2], "b": "unfinish',
        {"a": [1, 2], "b": "unfinish"},
        "truncated tail closed",
    ),
    ("truncated array", '{"a": {"b": [1, 2', {"a": {"b": [1, 2]}}, "truncated tail closed"),
    ("truncated after key", '{"a": 1, "b":', {"a": 1}, "truncated tail closed"),
    ("embedded in prose", 'I think {"x": {"y": 1}, "z": 2} is right', {"x": {"y": 1}, "z": 2}, None),
    (
        "prose with braces first",
        "Use the {name} field.\n```json\n{\"name\": 'n',}\n```",
        {"name": "n"},
        "trailing commas removed",
    ),
    (
        "unquoted keys",
        "{name: 'snake', files: ['a.py']}",
        {"name": "snake", "files": ["a.py"]},
        "unquoted keys quoted",
    ),
    (
        "missing comma between lines",
        '{"a": 1\n "b": "x"\n "c": 3}',
        {"a": 1, "b": "x", "c": 3},
        "missing commas added",
    ),
    (
        "inner quotes",
        '{"code": "print("hi")", "n": 1}',
        {"code": 'print("hi")', "n": 1},
        "inner quotes escaped",
    ),
    ("triple quotes", '{"code": """x = "1"\nprint(x)\n"""}', {"code": 'x = "1"\nprint(x)\n'}, None),
    ("unclosed content tag", '[CONTENT]\n{"a": 1, "b": [2', {"a": 1, "b": [2]}, "truncated tail closed"),
    (
        "fence inside a string is not a wrapper",
        '{"a": "```json\\n{}\\n```"}',
        {"a": "```json\n{}\n```"},
        None,
    ),
    ("invalid escape kept", '{"re": "\\d+", "ok": 1,}', {"re": "\\d+", "ok": 1}, "invalid escapes kept"),
]


@pytest.mark.parametrize(("kind", "text", "expected", "fix"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_extract_each_kind(kind: str, text: str, expected: dict[str, Any], fix: str | None) -> None:
    got = extract_json(text)
    assert got.value == expected
    if fix is not None:
        assert fix in got.fixes
        assert got.repaired


def test_clean_json_reports_no_repair() -> None:
    assert extract_json('```json\n{"a": 1}\n```').fixes == []


def test_strict_object_wins_over_an_inner_object_of_a_broken_one() -> None:
    # the inner {"c": 2} parses strictly, but the outer (with a trailing comma) is the answer
    assert extract_json('{"a": 1, "b": {"c": 2},}').value == {"a": 1, "b": {"c": 2}}


@pytest.mark.parametrize(
    "text",
    ["", "   ", "no json here", "[1, 2, 3]", "{]", "{'a' 'b'}", "{{{{{", "[" * 5000, "{" + '"a": [' * 3000],
)
def test_unrecoverable_raises_malformed(text: str) -> None:
    with pytest.raises(MalformedReplyError):
        extract_json(text)


def test_deep_nesting_is_malformed_not_recursion_error() -> None:
    with pytest.raises(MalformedReplyError):
        repair_json('{"a": ' * 10_000)


def test_repair_json_returns_values() -> None:
    assert repair_json("[1, 'two', None,]") == [1, "two", None]
    assert repair_json("  'x") == "x"


def test_extract_code_block_prefers_python() -> None:
    text = "Here:\n```json\n{}\n```\n```python\nprint(1)\n```\n"
    assert extract_code_block(text) == "print(1)"
    assert extract_code_block("```\nx = 1\n```") == "x = 1"
    assert extract_code_block("no fence") is None
    assert extract_code_block("```python\ndef f():\n    return 1\n") == "def f():\n    return 1\n"


# --- properties -------------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**12), max_value=10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_dicts = st.dictionaries(st.text(max_size=8), _json_values, max_size=5)

WRAPPERS = {
    "bare": "{}",
    "fenced": "```json\n{}\n```",
    "content": "[CONTENT]\n{}\n[/CONTENT]",
    "prose around": "Here is the output you asked for:\n{}\nLet me know if you need more.",
    "prose and fence": "Sure.\n\n```json\n{}\n```\n\nDone.",
    "content in fence": "```\n[CONTENT]\n{}\n[/CONTENT]\n```",
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=_dicts, wrapper=st.sampled_from(sorted(WRAPPERS)), indent=st.sampled_from([None, 2]))
def test_property_wrapped_json_round_trips(d: dict[str, Any], wrapper: str, indent: int | None) -> None:
    text = WRAPPERS[wrapper].replace("{}", json.dumps(d, indent=indent, ensure_ascii=False), 1)
    got = extract_json(text)
    assert got.value == d
    assert got.fixes == []


def _sloppy(value: Any, depth: int = 0) -> str:
    """Python-flavoured, comment-laden, trailing-comma JSON, as weak models write it."""
    if value is None:
        return "None"
    if value is True:
        return "True"
    if value is False:
        return "False"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        out = []
        for ch in value:
            if ch in "\\'":
                out.append("\\" + ch)
            elif ch in "\n\t":
                out.append(ch)  # raw, as weak models write them
            elif ord(ch) < 0x20:
                out.append(f"\\u{ord(ch):04x}")
            else:
                out.append(ch)
        return "'" + "".join(out) + "'"
    if isinstance(value, list):
        return "[" + "".join(f"{_sloppy(v, depth + 1)}, " for v in value) + "]"
    items = "".join(f"\n  {_sloppy(k)}: {_sloppy(v, depth + 1)}, // note\n" for k, v in value.items())
    return "{ /* start */" + items + "}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=_dicts, wrapper=st.sampled_from(sorted(WRAPPERS)))
def test_property_sloppy_json_is_repaired(d: dict[str, Any], wrapper: str) -> None:
    text = WRAPPERS[wrapper].replace("{}", _sloppy(d), 1)
    assert extract_json(text).value == d


@settings(max_examples=150, deadline=None)
@given(d=_dicts, cut=st.integers(min_value=1, max_value=400))
def test_property_truncated_json_gives_a_dict_or_malformed(d: dict[str, Any], cut: int) -> None:
    text = json.dumps(d)
    try:
        got = extract_json(text[: min(cut, len(text))])
    except MalformedReplyError:
        return
    assert isinstance(got.value, dict)


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("{}[]\"',:/*\n\t abc01-.TrueNonl\\`")) | st.characters()))
def test_property_arbitrary_text_raises_only_malformed(text: str) -> None:
    try:
        got = extract_json(text)
    except MalformedReplyError:
        pass
    else:
        assert isinstance(got.value, dict) and got.value is not None
    try:
        repair_json(text)
    except MalformedReplyError as exc:
        assert str(exc)
