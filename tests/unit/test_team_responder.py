"""The emulator's `team` responder, driven through the real actions' prompts and parsing.

A scripted gateway hands each action's messages to the responder as the emulator would (a
ChatRequest) and returns its text; no sockets: the wire is the emulator's own tests' business.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest
from _fake_gateway import Ask, FakeAnswer, ScriptedGateway

from polyteam.actions.structured import run_action
from polyteam.actions.write_code import WriteCode
from polyteam.actions.write_code_review import WriteCodeReview
from polyteam.actions.write_design import Design, WriteDesign
from polyteam.actions.write_prd import PRD, WritePRD
from polyteam.actions.write_tasks import Tasks, WriteTasks
from polyteam.emulator.responders import ChatRequest, Reply
from polyteam.emulator.team_responder import make_responder, make_team_responder, plan_files, project_name_for
from polyteam.providers.base import Completion


@dataclass
class ResponderGateway(ScriptedGateway):
    """Hands each ask to the responder, as the emulator would; records tags."""

    responder: Any
    protocol: str = "openai"
    model: str = "any-model"
    tags: list[str] = field(default_factory=list)
    prompt_chars: list[tuple[str, int]] = field(default_factory=list)
    llms: list[str] = field(default_factory=lambda: ["emu"])

    def reply(self, ask: Ask) -> FakeAnswer:
        messages, options = ask.messages, ask.options
        req = ChatRequest(
            protocol=self.protocol,
            model=self.model,
            messages=[{"role": m.role, "content": m.content} for m in messages],
            max_tokens=options.max_tokens,
            json_schema=options.json_schema,
        )
        reply = self.responder(req)
        assert isinstance(reply, Reply)
        text = reply.text
        if options.max_tokens and len(text) > options.max_tokens * 4:  # what the emulator does
            text = text[: options.max_tokens * 4]
        self.tags.append(reply.tag or "")
        self.prompt_chars.append((reply.tag or "", sum(len(m.content) for m in messages)))
        return FakeAnswer(Completion(text, 1, 1, self.model), "emu")


@dataclass
class Project:
    prd: PRD
    design: Design
    tasks: Tasks
    code: dict[str, str]
    reviews: dict[str, Any]
    gateway: ResponderGateway
    repairs: int = 0
    reasks: int = 0


async def run_pipeline(spec: str, requirement: str = "a command-line snake game", **gw: Any) -> Project:
    gateway = ResponderGateway(make_team_responder(spec), **gw)
    stats = {"repairs": 0, "reasks": 0}

    async def act(role: str, action: Any, inputs: dict[str, Any]) -> Any:
        result = await run_action(gateway, role, action, inputs)
        stats["repairs"] += result.repairs
        stats["reasks"] += result.reasks
        return result.output

    prd = await act("ProductManager", WritePRD(), {"requirement": requirement})
    design = await act("Architect", WriteDesign(), {"prd": prd})
    tasks = await act("ProjectManager", WriteTasks(), {"prd": prd, "design": design})
    code: dict[str, str] = {}
    reviews: dict[str, Any] = {}
    for f in tasks.task_list:
        deps = {d: code[d] for d in tasks.depends_on(f)}
        out = await act(
            "Engineer", WriteCode(), {"design": design, "tasks": tasks, "filename": f, "dependencies": deps}
        )
        code[f] = out.code
        inputs = {"design": design, "tasks": tasks, "filename": f, "code": out.code, "dependencies": deps}
        reviews[f] = await act("Engineer", WriteCodeReview(), inputs)
    return Project(prd, design, tasks, code, reviews, gateway, stats["repairs"], stats["reasks"])


def _imports(code: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 12])
async def test_pipeline_gives_a_consistent_project(n: int) -> None:
    project = await run_pipeline(f"team:{n}")
    assert project.repairs == 0 and project.reasks == 0  # the responder's replies are valid as sent
    assert project.prd.project_name == "command_line_snake_game"
    files = project.design.file_list
    assert len(files) == n and files[-1] == "main.py" and len(set(files)) == n
    assert [t.file for t in project.tasks.logic_analysis] == files
    # the task list is a dependency order of the design's files
    position = {f: i for i, f in enumerate(project.tasks.task_list)}
    assert set(position) == set(files)
    for task in project.tasks.logic_analysis:
        assert all(d in position and position[d] < position[task.file] for d in task.depends_on)
    # each file compiles and imports only its dependencies and the standard library
    for f, code in project.code.items():
        imported = _imports(code)
        allowed = {d.removesuffix(".py") for d in project.tasks.depends_on(f)}
        assert imported <= allowed | set(sys.stdlib_module_names), (f, imported)
        assert {d.removesuffix(".py") for d in project.tasks.depends_on(f)} <= imported
    assert all(r.verdict == "LGTM" for r in project.reviews.values())
    tags = project.gateway.tags
    assert tags[:3] == ["WritePRD", "WriteDesign", "WriteTasks"]
    assert sorted(tags[3:]) == sorted(
        [f"WriteCode:{f}" for f in files] + [f"WriteCodeReview:{f}" for f in files]
    )


@pytest.mark.parametrize("n", [4, 5, 12])
async def test_dag_has_real_independence(n: int) -> None:
    project = await run_pipeline(f"team:{n}")
    roots = [t.file for t in project.tasks.logic_analysis if not t.depends_on]
    assert len(roots) >= 2
    # the longest chain is short whatever N: leaves, one layer, main
    depth: dict[str, int] = {}
    for f in project.tasks.task_list:
        depth[f] = 1 + max((depth[d] for d in project.tasks.depends_on(f)), default=0)
    assert max(depth.values()) <= 3


async def test_team_12_gives_12_files_and_default_is_4() -> None:
    assert len((await run_pipeline("team:12")).design.file_list) == 12
    assert len((await run_pipeline("team")).design.file_list) == 4


@pytest.mark.parametrize("n", [4, 12])
async def test_generated_project_compiles_and_imports_only_what_exists(n: int) -> None:
    # generated code is never executed, not even the emulator's own: compile it and read its imports
    project = await run_pipeline(f"team:{n}")
    modules = {f.removesuffix(".py") for f in project.code}
    for f, code in project.code.items():
        tree = ast.parse(code, filename=f)
        compile(tree, f, "exec")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top = node.module.split(".")[0]
                assert top in modules or top in sys.stdlib_module_names, (f, node.module)
    assert "main" in modules


async def test_tiny_caps_still_give_valid_output() -> None:
    # a max_tokens cap as for a tiny model: the compact replies must fit and still validate
    class TinyWrites(WriteCode):
        max_tokens = 120

    gateway = ResponderGateway(make_team_responder("team:12"))
    design = (await run_action(gateway, "Architect", WriteDesign(), {"prd": {"project_name": "p"}})).output
    tasks = (
        await run_action(
            gateway, "ProjectManager", WriteTasks(), {"prd": {"project_name": "p"}, "design": design}
        )
    ).output
    inputs = {"design": design, "tasks": tasks, "filename": "main.py", "dependencies": {}}
    result = await run_action(gateway, "Engineer", TinyWrites(), inputs)
    ast.parse(result.output.code)
    assert result.repairs == 0 and result.reasks == 0


async def test_foreign_file_list_and_dependencies_are_followed() -> None:
    # WriteDesign served by another LLM: tasks follow the listed files, code follows "Depends on:"
    gateway = ResponderGateway(make_team_responder("team"))
    design = Design(file_list=["cli.py", "core.py", "io_utils.py"])
    tasks = (
        await run_action(
            gateway, "ProjectManager", WriteTasks(), {"prd": {"project_name": "p"}, "design": design}
        )
    ).output
    assert [t.file for t in tasks.logic_analysis] == ["cli.py", "core.py", "io_utils.py"]
    # no main.py: the last file is the entry point, over a layer (core) over a leaf (cli)
    assert tasks.depends_on("io_utils.py") == ["core.py"] and tasks.depends_on("core.py") == ["cli.py"]
    inputs = {
        "design": design,
        "tasks": tasks,
        "filename": "io_utils.py",
        "dependencies": {"core.py": "X = 1\n"},
    }
    code = (await run_action(gateway, "Engineer", WriteCode(), inputs)).output.code
    assert _imports(code) == {"core", "__future__"}


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "zhipu", "spark"])
async def test_any_protocol_and_model_name_same_answers(protocol: str) -> None:
    base = await run_pipeline("team:4")
    other = await run_pipeline("team:4", protocol=protocol, model=f"{protocol}-whatever-7b")
    assert other.code == base.code
    assert other.tasks == base.tasks


def test_deterministic_and_unknown_requests() -> None:
    responder = make_team_responder("team:5")
    req = ChatRequest(
        protocol="openai",
        model="m",
        messages=[
            {"role": "system", "content": "You are Engineer running WriteCode. ..."},
            {"role": "user", "content": "File: engine.py\nDepends on: settings.py, models.py\n"},
        ],
    )
    first, second = responder(req), responder(req)
    assert first == second and first.tag == "WriteCode:engine.py"
    plain = responder(ChatRequest(protocol="spark", model="x", messages=[{"role": "user", "content": "hi"}]))
    assert plain.tag == "echo"


def test_spec_parsing() -> None:
    assert make_responder is make_team_responder
    assert len(make_team_responder("team:7").plan.files) == 7
    for bad in ("team:0", "team:x", "teams", "team:-1"):
        with pytest.raises(ValueError, match="team:N"):
            make_team_responder(bad)


def test_plan_and_names() -> None:
    plan = plan_files(4)
    assert plan.files == ("settings.py", "models.py", "engine.py", "main.py")
    assert plan.deps["engine.py"] == ("settings.py", "models.py") and plan.deps["main.py"] == ("engine.py",)
    assert project_name_for("Write a CLI snake game, please!") == "cli_snake_game"
    assert project_name_for("!!!") == "project"


async def test_prompt_size_follows_dependencies_not_project_size() -> None:
    # token economy: a leaf file's WriteCode prompt is about as big in a 12-file project as in a 4-file one
    small = await run_pipeline("team:4")
    big = await run_pipeline("team:12")

    def chars(project: Project, tag: str) -> int:
        return next(c for t, c in project.gateway.prompt_chars if t == tag)

    assert chars(big, "WriteCode:settings.py") < 1.5 * chars(small, "WriteCode:settings.py")
