"""The five actions: output models and their coercions, prompts, Markdown, and `run_action`'s
repair / re-ask / fallback loop against a scripted fake gateway (no sockets: this is the logic)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from _fake_gateway import Ask, FakeAnswer, ScriptedGateway

from polyteam.actions.base import REASK_TEMPLATE, outline_code
from polyteam.actions.structured import call_options, run_action
from polyteam.actions.write_code import CodeFile, WriteCode, relevant_interfaces
from polyteam.actions.write_code_review import CodeReview, WriteCodeReview
from polyteam.actions.write_design import Design, WriteDesign
from polyteam.actions.write_prd import PRD, WritePRD
from polyteam.actions.write_tasks import Tasks, WriteTasks
from polyteam.errors import AuthError, FallbackExhaustedError, MalformedReplyError
from polyteam.providers.base import Completion, Endpoint
from polyteam.team.roles import STANDARD_ROLES

# --- fixtures: a fixed context ----------------------------------------------------------------

PRD_JSON = {
    "project_name": "snake_game",
    "original_requirement": "a command-line snake game",
    "product_goals": ["fun", "simple"],
    "user_stories": ["As a player, I steer the snake."],
    "requirement_pool": [{"requirement": "arrow keys steer", "priority": "P0"}],
    "ui_design_notes": "curses",
    "open_questions": [],
}
DESIGN_JSON = {
    "implementation_approach": "curses loop",
    "file_list": ["models.py", "board.py", "game.py", "main.py"],
    "data_structures_and_interfaces": "classDiagram\n  class Snake {\n    +move() None\n  }",
    "program_call_flow": "sequenceDiagram\n  main->>Game: run()",
    "third_party_packages": [],
    "anything_unclear": "",
}
TASKS_JSON = {
    "required_packages": [],
    "logic_analysis": [
        {"file": "models.py", "description": "Snake, Food", "depends_on": []},
        {"file": "board.py", "description": "Board grid", "depends_on": []},
        {"file": "game.py", "description": "Game loop", "depends_on": ["models.py", "board.py"]},
        {"file": "main.py", "description": "entry", "depends_on": ["game.py"]},
    ],
    "task_list": ["models.py", "board.py", "game.py", "main.py"],
    "shared_knowledge": "grid is 20x20",
    "anything_unclear": "",
}


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {
        "prd": PRD.model_validate(PRD_JSON),
        "design": Design.model_validate(DESIGN_JSON),
        "tasks": Tasks.model_validate(TASKS_JSON),
    }


# --- a scripted gateway -----------------------------------------------------------------------


def _endpoint(llm: str, *, tiny: bool = False, kind: str = "openai") -> Endpoint:
    return Endpoint(llm=llm, kind=kind, base_url="http://127.0.0.1:1/v1", model=llm, tiny=tiny)  # type: ignore[arg-type]


@dataclass
class FakeGateway(ScriptedGateway):
    """A real Gateway whose providers reply from a queue; an item is a text or an exception."""

    replies: list[Any]
    llms: list[str] = field(default_factory=lambda: ["a", "b"])
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    asks: list[Ask] = field(default_factory=list)

    def endpoint_for(self, llm: str) -> Endpoint:
        return self.endpoints.get(llm) or _endpoint(llm)

    def reply(self, ask: Ask) -> FakeAnswer:
        self.asks.append(ask)
        item = self.replies.pop(0)
        if isinstance(item, BaseException):
            raise item
        return FakeAnswer(
            Completion(item, input_tokens=10, output_tokens=5, model=str(ask.llm)), str(ask.llm)
        )


# --- models and coercions ---------------------------------------------------------------------


def test_prd_lenient_coercions() -> None:
    prd = PRD.model_validate(
        {
            "Project Name": " `snake` ",
            "Product Goals": "- fast\n- fun",
            "User Stories": "As a player I play",
            "Requirement Pool": [
                ["arrow keys", "p0"],
                "P2: colours",
                {"name": "pause", "priority": "High"},
                "sound",
            ],
            "anything_unclear": "none yet",
        }
    )
    assert prd.project_name == "snake"
    assert prd.product_goals == ["fast", "fun"]
    assert prd.user_stories == ["As a player I play"]
    assert [(r.requirement, r.priority) for r in prd.requirement_pool] == [
        ("arrow keys", "P0"),
        ("colours", "P2"),
        ("pause", "P0"),
        ("sound", "P1"),
    ]
    assert prd.open_questions == ["none yet"]


def test_prd_requires_a_project_name() -> None:
    with pytest.raises(ValueError, match="project_name"):
        PRD.model_validate({"project_name": "  ", "product_goals": []})


def test_design_file_list_is_cleaned_and_required() -> None:
    design = Design.model_validate(
        {
            "File list": ["- `./models.py`", "game.py: the loop", "main.py", "main.py"],
            "data_structures_and_interfaces": "```mermaid\nclassDiagram\n  class A\n```",
            "program_call_flow": ["sequenceDiagram", "  A->>B: x()"],
        }
    )
    assert design.file_list == ["models.py", "game.py", "main.py"]
    assert design.data_structures_and_interfaces == "classDiagram\n  class A"
    assert design.program_call_flow == "sequenceDiagram\n  A->>B: x()"
    with pytest.raises(ValueError, match="file_list"):
        Design.model_validate({"file_list": []})


def test_tasks_normalise_depends_on() -> None:
    tasks = Tasks.model_validate(
        {
            "logic_analysis": [
                ["utils.py", "helpers"],
                {"filename": "game.py", "description": "loop", "dependencies": "utils, game.py, `board.py`"},
                {"file": "board.py", "depends_on": "none"},
                {"file": "main.py", "depends_on": ["game"]},
            ],
            "task_list": [],
        }
    )
    assert tasks.depends_on("game.py") == ["utils.py", "board.py"]  # module name mapped, self dropped
    assert tasks.depends_on("board.py") == []
    assert tasks.depends_on("main.py") == ["game.py"]
    assert tasks.task_list == ["utils.py", "game.py", "board.py", "main.py"]  # derived from the analysis
    assert tasks.depends_on("nope.py") == []


def test_tasks_from_mapping_and_task_list_only() -> None:
    tasks = Tasks.model_validate({"logic_analysis": {"a.py": "first", "b.py": {"depends_on": ["a.py"]}}})
    assert [(t.file, t.depends_on) for t in tasks.logic_analysis] == [("a.py", []), ("b.py", ["a.py"])]
    only = Tasks.model_validate({"task_list": ["x.py", "y.py"]})
    assert [t.file for t in only.logic_analysis] == ["x.py", "y.py"]
    with pytest.raises(ValueError, match="both empty"):
        Tasks.model_validate({"shared_knowledge": "x"})


def test_code_file_strips_fence_and_rejects_empty() -> None:
    assert CodeFile.model_validate({"code": "```python\nx = 1\n```"}).code == "x = 1\n"
    with pytest.raises(ValueError, match="code is empty"):
        CodeFile.model_validate({"code": "  "})


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [("lgtm", "LGTM"), ("LBTM", "LBTM"), ("Looks good to me", "LGTM"), (True, "LGTM")],
)
def test_review_verdict_case_insensitive(verdict: Any, expected: str) -> None:
    review = CodeReview.model_validate({"verdict": verdict, "corrected_code": "x = 2"})
    assert review.verdict == expected


def test_review_lbtm_needs_corrected_code() -> None:
    with pytest.raises(ValueError, match="corrected_code"):
        CodeReview.model_validate({"verdict": "LBTM", "findings": ["bug"], "corrected_code": ""})


# --- prompts ----------------------------------------------------------------------------------

ALL = [
    (WritePRD(), "ProductManager", {"requirement": "a command-line snake game"}),
    (WriteDesign(), "Architect", {"prd": PRD_JSON}),
    (WriteTasks(), "ProjectManager", {"prd": PRD_JSON, "design": DESIGN_JSON}),
    (
        WriteCode(),
        "Engineer",
        {
            "design": DESIGN_JSON,
            "tasks": TASKS_JSON,
            "filename": "game.py",
            "dependencies": {"models.py": "A = 1\n"},
        },
    ),
    (
        WriteCodeReview(),
        "Engineer",
        {
            "design": DESIGN_JSON,
            "tasks": TASKS_JSON,
            "filename": "game.py",
            "code": "import models\n",
            "dependencies": {"models.py": "def f(x: int) -> int:\n    return x\n"},
        },
    ),
]


@pytest.mark.parametrize(("action", "role", "inputs"), ALL, ids=[a.name for a, _, _ in ALL])
@pytest.mark.parametrize("tiny", [False, True])
def test_prompts_identify_the_action(action: Any, role: str, inputs: dict[str, Any], tiny: bool) -> None:
    messages = action.build_messages(action.inputs(inputs), tiny=tiny)
    assert messages[0].role == "system"
    assert messages[0].content.startswith(f"You are {role} running {action.name}.")
    # the role the prompt names is the roster's role that runs this action
    assert [r.name for r in STANDARD_ROLES if type(action) in r.actions] == [role]
    if action.name in ("WriteCode", "WriteCodeReview"):
        assert "\nFile: game.py\n" in "\n" + messages[1].content
    # no unrendered template fields
    assert "{requirement}" not in messages[1].content and "{filename}" not in messages[1].content


@pytest.mark.parametrize(("action", "role", "inputs"), ALL, ids=[a.name for a, _, _ in ALL])
def test_tiny_prompts_are_shorter(action: Any, role: str, inputs: dict[str, Any]) -> None:
    full = sum(len(m.content) for m in action.build_messages(action.inputs(inputs)))
    tiny = sum(len(m.content) for m in action.build_messages(action.inputs(inputs), tiny=True))
    assert tiny < full
    assert action.tiny_max_tokens < action.max_tokens
    assert 200 <= action.tiny_max_tokens <= 400


def test_write_code_prompt_holds_only_its_dependencies(ctx: dict[str, Any]) -> None:
    deps = {
        "models.py": "class Snake:\n    MARK_MODELS = 1\n",
        "board.py": "class Board:\n    MARK_BOARD = 2\n",
    }
    code = WriteCode()
    user = code.build_messages(code.inputs({**ctx, "filename": "game.py", "dependencies": deps}))[1].content
    assert "MARK_MODELS" in user and "MARK_BOARD" in user
    assert "Depends on: models.py, board.py" in user
    assert "This file: Game loop" in user and "grid is 20x20" in user
    # main.py's prompt is the same size whatever else was written: only game.py is quoted
    main_a = code.build_messages(
        code.inputs({**ctx, "filename": "main.py", "dependencies": {"game.py": "X = 1\n"}})
    )
    assert "MARK_MODELS" not in main_a[1].content
    tiny = code.build_messages(code.inputs({**ctx, "filename": "game.py", "dependencies": deps}), tiny=True)[
        1
    ].content
    assert "class Snake:" in tiny and "MARK_MODELS" not in tiny  # outlines, not bodies


def test_review_prompt_quotes_dependency_outlines(ctx: dict[str, Any]) -> None:
    deps = {"models.py": "def step(n: int) -> int:\n    SECRET_BODY = n\n    return n\n"}
    review = WriteCodeReview()
    user = review.build_messages(
        review.inputs({**ctx, "filename": "game.py", "code": "import models\n", "dependencies": deps})
    )[1]
    assert "def step(n: int) -> int: ..." in user.content
    assert "SECRET_BODY" not in user.content
    assert "import models" in user.content


def test_outline_code() -> None:
    code = "import os\nLIMIT = 3\nclass A(B):\n    x: int\n    def m(self, y=1) -> str:\n        return ''\n    def _p(self): pass\nasync def g(): pass\n"
    assert outline_code(code).splitlines() == [
        "LIMIT = ...",
        "class A(B):",
        "    x: int",
        "    def m(self, y=1) -> str: ...",
        "async def g(): ...",
    ]
    assert outline_code("def broken(:\n  pass") == "def broken(:\n  pass"


def test_relevant_interfaces_filters_long_diagrams() -> None:
    blocks = [f"  class C{i} {{\n    +run{i}() None\n    +pad_{'x' * 40}() None\n  }}" for i in range(30)]
    diagram = "classDiagram\n" + "\n".join(blocks) + "\n  C3 --> C7"
    kept = relevant_interfaces(diagram, ["C3"])
    assert kept.startswith("classDiagram") and "class C3 " in kept and "C3 --> C7" in kept
    assert "class C12 " not in kept
    assert relevant_interfaces("classDiagram\n  class A", ["Z"]) == "classDiagram\n  class A"


def test_action_schemas_are_objects() -> None:
    for action, _, _ in ALL:
        schema = action.json_schema()
        assert schema["type"] == "object"
        assert "title" not in schema
        assert set(schema["properties"]) <= set(action.output_model.model_fields)
        assert schema.get("additionalProperties") is False  # no invented keys (weak-models.md)


def test_each_action_schema_is_built_once_per_class(monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 7: pydantic rebuilt the schema on every call; it never changes, so it is built once
    import polyteam.actions.base as base

    monkeypatch.setattr(base, "_SCHEMAS", {})
    built: list[str] = []
    real = Tasks.model_json_schema.__func__  # type: ignore[attr-defined]

    def counting(cls: type, *args: Any, **kwargs: Any) -> dict[str, Any]:
        built.append(cls.__name__)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(Tasks, "model_json_schema", classmethod(counting))
    first = call_options(WriteTasks(), None).json_schema
    second = call_options(WriteTasks(), None).json_schema
    assert first is second and built == ["Tasks"]
    assert first is not None and first["required"] == ["logic_analysis"]  # the subclass's adjustment kept
    assert WriteDesign().json_schema()["required"] != ["logic_analysis"]  # one cache entry per class


# --- Markdown ---------------------------------------------------------------------------------


def test_markdown_renderings(ctx: dict[str, Any]) -> None:
    prd_md = ctx["prd"].to_markdown()
    assert prd_md.startswith("# snake_game") and "| P0 | arrow keys steer |" in prd_md
    assert "## User stories" in prd_md
    design_md = ctx["design"].to_markdown()
    assert (
        design_md.count("```mermaid") == 2 and "classDiagram" in design_md and "sequenceDiagram" in design_md
    )
    tasks_md = ctx["tasks"].to_markdown()
    assert "| `game.py` | `models.py`, `board.py` | Game loop |" in tasks_md
    assert "1. `models.py`" in tasks_md
    lbtm = CodeReview(filename="a.py", findings=["off by one"], verdict="LBTM", corrected_code="x = 1\n")
    md = lbtm.to_markdown()
    assert "**Verdict: LBTM**" in md and "- off by one" in md and "x = 1" in md
    assert "Corrected code" not in CodeReview(filename="a.py", verdict="LGTM").to_markdown()
    assert "```python\nx = 1\n```" in CodeFile(filename="a.py", code="x = 1\n").to_markdown()


# --- run_action: repair, re-ask, fallback -----------------------------------------------------

PRD_REPLY = json.dumps(PRD_JSON)


async def test_valid_reply_first_time() -> None:
    gw = FakeGateway([f"```json\n{PRD_REPLY}\n```"])
    result = await run_action(gw, "ProductManager", WritePRD(), {"requirement": "x"})
    assert isinstance(result.output, PRD) and result.output.project_name == "snake_game"
    assert (result.calls, result.repairs, result.reasks, result.fallbacks) == (1, 0, 0, 0)
    assert (result.input_tokens, result.output_tokens, result.llm) == (10, 5, "a")
    assert not result.degraded and result.by_llm == {
        "a": {"calls": 1, "repairs": 0, "reasks": 0, "gate_failures": 0}
    }
    ask = gw.asks[0]
    assert ask.llm == "a"  # the route's own LLM first
    assert ask.options.schema_name == "WritePRD" and ask.options.json_schema == WritePRD().json_schema()
    assert ask.options.max_tokens == WritePRD.max_tokens


@pytest.mark.parametrize(
    "broken",
    [
        "[CONTENT]\n{'project_name': 'snake_game', 'product_goals': ['fun',],}\n[/CONTENT]",
        '{"project_name": "snake_game", // name\n "user_stories": ["a\nb"]}',
        '{"project_name": "snake_game", "product_goals": ["fun", "simp',
    ],
    ids=["quotes-commas", "comments-newlines", "truncated"],
)
async def test_broken_reply_is_repaired_without_reask(broken: str) -> None:
    gw = FakeGateway([broken])
    result = await run_action(gw, "ProductManager", WritePRD(), {"requirement": "x"})
    assert result.output.project_name == "snake_game"
    assert result.output.original_requirement == "x"  # filled from the inputs
    assert (result.calls, result.repairs, result.reasks) == (1, 1, 0)
    assert result.fixes


async def test_invalid_reply_is_reasked_once_with_the_error() -> None:
    gw = FakeGateway(['{"product_goals": ["no name"]}', PRD_REPLY])
    result = await run_action(gw, "ProductManager", WritePRD(), {"requirement": "x"})
    assert (result.calls, result.reasks, result.fallbacks) == (2, 1, 0)
    reask = gw.asks[1]
    assert reask.llm == "a"  # the same LLM again
    assert reask.messages[:2] == gw.asks[0].messages  # same system line: still identifiable
    last = reask.messages[-1]
    assert last.role == "user" and "project_name" in last.content and "Field required" in last.content
    assert "no name" not in last.content  # the previous reply is not sent back
    assert last.content.startswith(REASK_TEMPLATE.split("{")[0])


async def test_falls_to_the_next_llm_after_a_failed_reask() -> None:
    gw = FakeGateway(["not json at all", "still {not json", PRD_REPLY])
    result = await run_action(gw, "ProductManager", WritePRD(), {"requirement": "x"})
    assert [a.llm for a in gw.asks] == ["a", "a", "b"]
    assert (result.calls, result.reasks, result.fallbacks, result.llm) == (3, 1, 1, "b")
    assert len(gw.asks[2].messages) == 2  # a fresh prompt for the next LLM
    assert result.by_llm["a"]["reasks"] == 1 and result.by_llm["b"]["calls"] == 1


async def test_every_llm_malformed_degrades_instead_of_failing() -> None:
    # the PRD's last resort: a minimal PRD from the requirement's words, marked degraded
    gw = FakeGateway(["nope"] * 4)
    result = await run_action(gw, "ProductManager", WritePRD(), {"requirement": "Write a cli snake game"})
    assert result.degraded and result.output.project_name == "cli_snake_game"
    assert result.output.original_requirement == "Write a cli snake game"
    assert len(gw.asks) == 4 and not gw.replies and result.calls == 4


async def test_design_degrades_to_a_plain_file_list(ctx: dict[str, Any]) -> None:
    bad = json.dumps({"file_list": ["src/.heroku()", "2023-01-01 notes"]})
    gw = FakeGateway([bad, bad, bad, bad, "Files:\n- game.py\n- the main one\n- main.py\n"])
    result = await run_action(gw, "Architect", WriteDesign(), {"prd": ctx["prd"]})
    assert result.degraded and result.output.file_list == ["game.py", "main.py"]
    assert result.gate_failures == 4 and "file_list" in gw.asks[1].messages[-1].content
    assert gw.asks[4].options.json_schema is None  # the simpler format is plain text


async def test_an_action_without_a_simpler_format_raises() -> None:
    gw = FakeGateway(["nope"] * 4)
    inputs = {"design": DESIGN_JSON, "tasks": TASKS_JSON, "filename": "game.py", "code": "x = 1\n"}
    with pytest.raises(MalformedReplyError, match="WriteCodeReview: no valid reply") as info:
        await run_action(gw, "Engineer", WriteCodeReview(), inputs)
    assert "a:" in str(info.value) and "b:" in str(info.value)


async def test_provider_failure_moves_down_the_same_chain() -> None:
    gw = FakeGateway([AuthError("no", llm="a"), "garbage", PRD_REPLY])
    result = await run_action(gw, "ProductManager", WritePRD(), {"requirement": "x"})
    assert [a.llm for a in gw.asks] == ["a", "b", "b"]
    assert (result.llm, result.fallbacks, result.reasks) == ("b", 1, 1)


async def test_provider_errors_on_every_llm_propagate() -> None:
    gw = FakeGateway([AuthError("no", llm="a"), AuthError("no", llm="b")])
    with pytest.raises(FallbackExhaustedError):
        await run_action(gw, "ProductManager", WritePRD(), {"requirement": "x"})
    gw = FakeGateway([AuthError("no", llm="a")], llms=["a"])
    with pytest.raises(AuthError):
        await run_action(gw, "ProductManager", WritePRD(), {"requirement": "x"})


async def test_on_delta_streams_the_reply() -> None:
    seen: list[str] = []
    gw = FakeGateway([PRD_REPLY])
    await run_action(gw, "ProductManager", WritePRD(), {"requirement": "x"}, on_delta=seen.append)
    assert gw.asks[0].on_delta is True and seen == [PRD_REPLY]


async def test_reasoning_is_never_the_answer() -> None:
    think = '<think>{"project_name": "wrong_one"}</think>\n' + PRD_REPLY
    gw = FakeGateway([think])
    result = await run_action(gw, "ProductManager", WritePRD(), {"requirement": "x"})
    assert result.output.project_name == "snake_game"


async def test_write_code_accepts_a_bare_python_fence(ctx: dict[str, Any]) -> None:
    gw = FakeGateway(["Here is the file:\n```python\nimport models\nCONFIG = {'a': 1}\n```\n"])
    inputs = {"design": ctx["design"], "tasks": ctx["tasks"], "filename": "game.py", "dependencies": {}}
    result = await run_action(gw, "Engineer", WriteCode(), inputs)
    assert result.output.filename == "game.py"
    assert result.output.code == "import models\nCONFIG = {'a': 1}\n"
    assert result.repairs == 1


async def test_write_code_keeps_the_requested_filename(ctx: dict[str, Any]) -> None:
    gw = FakeGateway([json.dumps({"filename": "../../evil.py", "code": "x = 1"})])
    inputs = {"design": ctx["design"], "tasks": ctx["tasks"], "filename": "game.py", "dependencies": {}}
    result = await run_action(gw, "Engineer", WriteCode(), inputs)
    assert result.output.filename == "game.py"


async def test_write_code_gates_compile_and_imports(ctx: dict[str, Any]) -> None:
    broken = json.dumps({"code": "def f(:\n    pass"})
    foreign = json.dumps({"code": "import snakelib\nimport models\n"})
    good = json.dumps({"code": "import curses\nimport models\nfrom board import Board\n"})
    gw = FakeGateway([broken, foreign, good])
    inputs = {"design": ctx["design"], "tasks": ctx["tasks"], "filename": "game.py", "requirement": "snake"}
    result = await run_action(gw, "Engineer", WriteCode(), inputs)
    assert "does not compile" in gw.asks[1].messages[-1].content
    assert gw.asks[2].llm == "b" and result.gate_failures == 2 and result.llm == "b"
    assert "Requirement: snake" in gw.asks[0].messages[1].content


async def test_write_code_degrades_to_plain_code_then_a_stub(ctx: dict[str, Any]) -> None:
    inputs = {"design": ctx["design"], "tasks": ctx["tasks"], "filename": "game.py"}
    gw = FakeGateway(["no"] * 4 + ["```python\nprint('snake')\n```"])
    result = await run_action(gw, "Engineer", WriteCode(), inputs)
    assert result.degraded and result.output.code == "print('snake')\n"
    gw = FakeGateway(["no"] * 4 + ["def (", "also ("])
    result = await run_action(gw, "Engineer", WriteCode(), inputs)
    assert result.degraded and "Not written" in result.output.code
    compile(result.output.code, "game.py", "exec")


async def test_review_lbtm_without_code_is_reasked(ctx: dict[str, Any]) -> None:
    first = json.dumps({"findings": ["bug"], "verdict": "LBTM"})
    second = json.dumps({"findings": ["bug"], "verdict": "lbtm", "corrected_code": "x = 2"})
    gw = FakeGateway([first, second])
    inputs = {**ctx, "filename": "game.py", "code": "x = 1\n", "dependencies": {}}
    result = await run_action(gw, "Engineer", WriteCodeReview(), inputs)
    assert result.output.verdict == "LBTM" and result.output.corrected_code == "x = 2\n"
    assert result.reasks == 1 and "corrected_code" in gw.asks[1].messages[-1].content


async def test_tasks_without_files_fall_back_to_the_design(ctx: dict[str, Any]) -> None:
    gw = FakeGateway(['{"shared_knowledge": "x"}'])
    result = await run_action(
        gw, "ProjectManager", WriteTasks(), {"prd": ctx["prd"], "design": ctx["design"]}
    )
    assert result.output.task_list == ctx["design"].file_list
    assert all(t.depends_on == [] for t in result.output.logic_analysis)
    assert (result.repairs, result.reasks) == (1, 0) and "task list taken from the design" in result.fixes
    assert WriteTasks().json_schema()["required"] == ["logic_analysis"]


async def test_task_files_are_the_designs(ctx: dict[str, Any]) -> None:
    nonsense = json.dumps({"task_list": ["src/code-goffit1234567890xzjwvg.pymhkd", "main.py"]})
    extra = json.dumps({"task_list": ["utils.py", "main.py"]})
    gw = FakeGateway([nonsense, extra])
    result = await run_action(
        gw, "ProjectManager", WriteTasks(), {"prd": ctx["prd"], "design": ctx["design"]}
    )
    assert "the design does not" in gw.asks[1].messages[-1].content
    tasks = result.output
    assert set(tasks.task_list) == {*ctx["design"].file_list, "utils.py"} and tasks.adopted_files == [
        "utils.py"
    ]
    assert "the design adopts utils.py" in result.fixes and "adopted by the task list" in tasks.to_markdown()
    schema = WriteTasks().json_schema(WriteTasks().inputs({"design": ctx["design"]}))
    assert schema["properties"]["task_list"]["items"]["enum"] == ctx["design"].file_list


async def test_tiny_and_local_endpoints_get_caps_and_sampling() -> None:
    endpoints = {"a": _endpoint("a", tiny=True, kind="local"), "b": _endpoint("b")}
    gw = FakeGateway(["bad", "bad", PRD_REPLY], endpoints=endpoints)
    await run_action(gw, "ProductManager", WritePRD(), {"requirement": "a snake game"})
    tiny, _, big = (a.options for a in gw.asks)
    assert tiny.max_tokens == WritePRD.tiny_max_tokens and tiny.temperature == 0.3
    assert tiny.extra_body == {"repeat_penalty": 1.2}
    assert big.max_tokens == WritePRD.max_tokens and big.temperature is None and big.extra_body == {}
    assert len(gw.asks[0].messages[1].content) < len(gw.asks[2].messages[1].content)  # the tiny prompt


def test_call_options_without_a_router() -> None:
    options = call_options(WriteCode(), None)
    assert options.max_tokens == WriteCode.max_tokens and options.json_schema is not None


def test_write_code_schema_rules_out_an_empty_file() -> None:
    # sent to constrained decoders (llama.cpp): a tiny model cannot close the code string at once
    from polyteam.actions.write_code import MIN_CODE_CHARS, WriteCode

    schema = WriteCode().json_schema()
    assert schema["required"] == ["code"]
    assert schema["properties"]["code"]["minLength"] == MIN_CODE_CHARS > 0


async def test_tiny_write_code_is_asked_in_plain_text(ctx: dict[str, Any]) -> None:
    gw = FakeGateway(
        ["import models\n\n\ndef run():\n    print('snake')\n"], endpoints={"a": _endpoint("a", tiny=True)}
    )
    inputs = {
        "design": ctx["design"],
        "tasks": ctx["tasks"],
        "filename": "game.py",
        "requirement": "a snake game",
    }
    result = await run_action(gw, "Engineer", WriteCode(), inputs)
    ask = gw.asks[0]
    assert ask.options.json_schema is None and "```python block" in ask.messages[1].content
    assert "Requirement: a snake game" in ask.messages[1].content
    assert result.output.code.startswith("import models") and not result.degraded
