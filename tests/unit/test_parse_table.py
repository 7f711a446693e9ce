"""The measurement behind the tolerant parse: ours vs json-repair per case, and what the combined
candidate walk (`json_candidates` + validation + gates, `Action.parse`) accepts.

Each row: a reply shape weak models produce (weak-models.md, issue 12), whether our parser and
json-repair alone recover the intended object, and the value the action finally accepts. The
"winner" columns are the measurement: when json-repair or ours changes, the table says where.
"""

from __future__ import annotations

from typing import Any

import json_repair
import pytest

from polyteam.actions.parsing import extract_json, json_candidates, strip_reasoning
from polyteam.actions.write_code import WriteCode
from polyteam.actions.write_code_review import WriteCodeReview
from polyteam.actions.write_prd import WritePRD
from polyteam.errors import MalformedReplyError

PRD = {"project_name": "snake", "product_goals": ["fun"]}
CODE = {"filename": "a.py", "code": 'import os\nprint("hi")\n'}

#: (id, reply, intended object, ours recovers it, json-repair recovers it)
TABLE: list[tuple[str, str, dict[str, Any], bool, bool]] = [
    (
        "content-tags",
        '[CONTENT]\n{"project_name": "snake", "product_goals": ["fun"]}\n[/CONTENT]',
        PRD,
        True,
        False,
    ),
    ("triple-quoted-code", '{"filename": "a.py", "code": """import os\nprint("hi")\n"""}', CODE, True, False),
    ("trailing-newlines", '{"project_name": "snake", "product_goals": ["fun"]}\n\n\n', PRD, True, True),
    ("unquoted-value", '{"verdict": LGTM, "findings": []}', {"verdict": "LGTM", "findings": []}, False, True),
    (
        "curly-quotes",
        "{\u201cproject_name\u201d: \u201csnake\u201d, \u201cproduct_goals\u201d: [\u201cfun\u201d]}",
        PRD,
        False,
        True,
    ),
    ("full-width-comma", '{"project_name": "snake"\uff0c"product_goals": ["fun"]}', PRD, False, True),
    (
        "fence-missing-brace",
        '```json\n{"project_name": "snake", "product_goals": ["fun"]\n```\nDone.',
        PRD,
        False,
        True,
    ),
    (
        "single-quotes-trailing-commas",
        "{'project_name': 'snake', 'product_goals': ['fun',],}",
        PRD,
        True,
        True,
    ),
    (
        "prose-around",
        'Sure! Here it is: {"project_name": "snake", "product_goals": ["fun"]} Enjoy.',
        PRD,
        True,
        True,
    ),
    ("truncated", '{"project_name": "snake", "product_goals": ["fun"', PRD, True, True),
    (
        "python-literals",
        '{"project_name": "snake", "product_goals": ["fun"], "x": None}',
        {**PRD, "x": None},
        True,
        True,
    ),
]


def _ours(text: str) -> Any:
    try:
        return extract_json(text).value
    except MalformedReplyError:
        return None


def _theirs(text: str) -> Any:
    try:
        return json_repair.loads(text)
    except (ValueError, RecursionError):
        return None


@pytest.mark.parametrize(
    ("reply", "want", "ours", "theirs"), [r[1:] for r in TABLE], ids=[r[0] for r in TABLE]
)
def test_the_measurement_holds(reply: str, want: dict[str, Any], ours: bool, theirs: bool) -> None:
    assert (_ours(reply) == want) is ours
    assert (_theirs(reply) == want) is theirs
    # the combined walk recovers every case: some candidate is the intended object
    assert want in [c.value for c in json_candidates(reply)]


def test_the_first_candidate_that_validates_wins() -> None:
    # ours reads the full-width comma as part of a string (a junk project name): the gate rejects it,
    # json-repair's reading validates
    reply = '{"project_name": "snake"\uff0c"product_goals": ["fun"]}'
    action = WritePRD()
    prd, _fixes = action.parse(reply, action.inputs({"requirement": "a snake game"}))
    assert prd.project_name == "snake" and prd.product_goals == ["fun"]


def test_camel_case_keys_validate() -> None:
    action = WritePRD()
    prd, _ = action.parse(
        '{"projectName": "snake_game", "productGoals": ["fun"]}', action.inputs({"requirement": "x"})
    )
    assert (prd.project_name, prd.product_goals) == ("snake_game", ["fun"])


def test_unquoted_verdict_and_triple_quoted_code_validate() -> None:
    review = WriteCodeReview()
    inputs = review.inputs(
        {
            "design": {"file_list": ["a.py"]},
            "tasks": {"task_list": ["a.py"]},
            "filename": "a.py",
            "code": "x = 1\n",
        }
    )
    out, _ = review.parse('{"verdict": LGTM, "findings": []}', inputs)
    assert out.verdict == "LGTM"
    code = WriteCode()
    out, _ = code.parse(TABLE[1][1], code.inputs({k: v for k, v in inputs if k != "code"}))
    assert out.code == CODE["code"]


@pytest.mark.parametrize(
    ("reply", "want"),
    [
        ('<think>I could say {"a": 1}</think>{"b": 2}', {"b": 2}),
        ('<THINK>\n{"a": 1}\n</THINK>\n\n{"b": 2}', {"b": 2}),
        ('reasoning starts inside the block {"a": 1}</think>{"b": 2}', {"b": 2}),
        ('{"b": 2}<think>cut off at the cap {"a": 1}', {"b": 2}),
    ],
    ids=["block", "upper-case", "opened-by-template", "never-closed"],
)
def test_reasoning_is_never_a_candidate(reply: str, want: dict[str, Any]) -> None:
    assert [c.value for c in json_candidates(reply)] == [want]
    assert "think" not in strip_reasoning(reply).lower()
