"""The emulator's `team` responder: valid, mutually consistent replies for every team action.

Owns a deterministic stand-in for the whole software team, so that `polyteam emulate --responder
team` plus `polyteam run` writes a small working project offline. It recognises the action from
the system line `You are <Role> running <ActionName>.` and, for WriteCode/WriteCodeReview, the
`File: <name>` line (the prompts in `polyteam.actions` guarantee both), and answers:

- WritePRD: a PRD whose project name comes from the requirement;
- WriteDesign: N Python files (`team:N`, default 4) forming a DAG with real independence: half
  of the modules depend on nothing, the next layer each import two of them, `main.py` on top;
- WriteTasks: each file's `depends_on` (for the files the prompt lists; its own plan when they
  are the planned files), in dependency order;
- WriteCode: a module that compiles and imports only its dependencies (from the prompt's
  `Depends on:` line) and the standard library; main.py runs and prints the composition;
- WriteCodeReview: LGTM.

Any model name and any protocol get the same answers; replies are tagged with the action
("WriteCode:main.py") for the request log and fault rules. Replies fit the request's
`max_tokens` (a compact variant is used when the full one would be cut). No randomness.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from polyteam.emulator.responders import ChatRequest, Reply, echo

__all__ = ["TeamResponder", "make_team_responder", "make_responder", "plan_files", "project_name_for"]

DEFAULT_FILES = 4
MAX_FILES = 64
_CHARS_PER_TOKEN = 4

_ACTION = re.compile(r"You are (\w+) running (\w+)\.")
_LINE = {
    key: re.compile(rf"^{key}:[ \t]*(.*)$", re.MULTILINE)
    for key in ("File", "Files", "Depends on", "Requirement")
}
_LEAVES = (
    "settings.py",
    "models.py",
    "utils.py",
    "storage.py",
    "validators.py",
    "formatting.py",
    "events.py",
)
_MIDDLE = ("engine.py", "service.py", "controller.py", "renderer.py", "commands.py", "reports.py")
_STOPWORDS = {
    "a", "an", "the", "write", "make", "create", "build", "please", "me", "with", "for", "of", "and", "to",
    "in", "that", "using", "python", "simple", "small", "i", "want", "program", "app",
}  # fmt: skip


@dataclass(frozen=True)
class FilePlan:
    """The planned files in dependency order, and what each imports."""

    files: tuple[str, ...]
    deps: dict[str, tuple[str, ...]]


def plan_files(n: int) -> FilePlan:
    """The team's N-file project: leaves first, then a layer over them, then main.py."""
    n = max(1, min(MAX_FILES, n))
    others = n - 1
    leaves_n = (others + 1) // 2
    leaves = [_LEAVES[i] if i < len(_LEAVES) else f"part_{i + 1}.py" for i in range(leaves_n)]
    middle = [_MIDDLE[i] if i < len(_MIDDLE) else f"layer_{i + 1}.py" for i in range(others - leaves_n)]
    return _plan(leaves, middle, "main.py")


def plan_for_names(names: list[str]) -> FilePlan:
    """A plan of the same shape over file names someone else chose (entry point last)."""
    names = list(dict.fromkeys(n for n in names if n))
    if not names:
        return plan_files(DEFAULT_FILES)
    entry = "main.py" if "main.py" in names else names[-1]
    others = [n for n in names if n != entry]
    leaves_n = (len(others) + 1) // 2
    return _plan(others[:leaves_n], others[leaves_n:], entry)


def _plan(leaves: list[str], middle: list[str], entry: str) -> FilePlan:
    deps: dict[str, tuple[str, ...]] = {leaf: () for leaf in leaves}
    for i, name in enumerate(middle):
        picks = [leaves[i % len(leaves)], leaves[(i + 1) % len(leaves)]] if leaves else []
        deps[name] = tuple(dict.fromkeys(picks))
    deps[entry] = tuple(middle or leaves)
    return FilePlan(files=(*leaves, *middle, entry), deps=deps)


def project_name_for(requirement: str) -> str:
    """A snake_case project name from a requirement ("a command-line snake game" -> command_line_snake_game)."""
    words = [w for w in re.findall(r"[a-z0-9]+", requirement.lower()) if w not in _STOPWORDS]
    return "_".join(words[:4]) or "project"


def _stem(filename: str) -> str:
    return filename.rsplit("/", 1)[-1].removesuffix(".py")


def _importable(filename: str) -> bool:
    return filename.endswith(".py") and "/" not in filename and _stem(filename).isidentifier()


# --- the replies ---------------------------------------------------------------------------


def _prd(requirement: str, compact: bool) -> dict[str, object]:
    name = project_name_for(requirement)
    prd: dict[str, object] = {"project_name": name, "original_requirement": requirement}
    if compact:
        return {**prd, "product_goals": [f"Deliver {requirement}"], "user_stories": ["As a user, I run it."]}
    return {
        **prd,
        "product_goals": [
            f"Deliver {requirement}",
            "Keep it small and easy to run",
            "Make its modules reusable",
        ],
        "user_stories": [
            "As a user, I want to start it with one command so that I can try it at once.",
            "As a user, I want clear output so that I know what it did.",
            "As a maintainer, I want small modules so that I can change one part safely.",
        ],
        "requirement_pool": [
            {"requirement": "A runnable entry point, main.py", "priority": "P0"},
            {"requirement": "Independent modules with small interfaces", "priority": "P1"},
            {"requirement": "Helpful output", "priority": "P2"},
        ],
        "ui_design_notes": "Command-line output, one line per step.",
        "open_questions": [],
    }


def _design(plan: FilePlan, compact: bool) -> dict[str, object]:
    design: dict[str, object] = {
        "implementation_approach": "Plain Python standard library; each module exposes describe(); "
        "main.py composes them.",
        "file_list": list(plan.files),
    }
    if compact:
        return design
    classes = "\n".join(
        f"    class {_stem(f).title().replace('_', '')} {{\n        +describe() str\n    }}"
        for f in plan.files
    )
    relations = "\n".join(
        f"    {_stem(f).title().replace('_', '')} --> {_stem(d).title().replace('_', '')}"
        for f in plan.files
        for d in plan.deps.get(f, ())
    )
    calls = "\n".join(f"    main->>{_stem(d)}: describe()" for d in plan.deps.get(plan.files[-1], ()))
    return {
        **design,
        "data_structures_and_interfaces": f"classDiagram\n{classes}\n{relations}".rstrip(),
        "program_call_flow": f"sequenceDiagram\n    participant main\n{calls}".rstrip(),
        "third_party_packages": [],
        "anything_unclear": "",
    }


def _tasks(plan: FilePlan, compact: bool) -> dict[str, object]:
    analysis = [
        {
            "file": f,
            "description": "" if compact else _description(f, plan.deps.get(f, ())),
            "depends_on": list(plan.deps.get(f, ())),
        }
        for f in plan.files
    ]
    tasks: dict[str, object] = {"logic_analysis": analysis, "task_list": list(plan.files)}
    if compact:
        return tasks
    return {
        "required_packages": [],
        **tasks,
        "shared_knowledge": "Every module exposes describe() -> str; modules import each other by plain name.",
        "anything_unclear": "",
    }


def _description(filename: str, deps: tuple[str, ...]) -> str:
    if _stem(filename) == "main":
        return (
            f"main: the entry point; main() prints what {', '.join(_stem(d) for d in deps) or 'it'} describe."
        )
    if not deps:
        return f"{_stem(filename)}: describe() returns its name; imports no project file."
    return f"{_stem(filename)}: describe() combines {', '.join(_stem(d) for d in deps)}."


def _code(filename: str, deps: list[str], compact: bool) -> str:
    if not filename.endswith(".py"):
        return "{}\n" if filename.endswith(".json") else f"# {filename}\n"
    modules = sorted({_stem(d) for d in deps if _importable(d) and d != filename})
    stem = _stem(filename)
    doc = "" if compact else f'"""{stem}: one module of the generated project."""\n\n'
    imports = "".join(f"import {m}\n" for m in modules)
    head = f"{doc}from __future__ import annotations\n\n{imports}\n" if imports else f"{doc}"
    parts = ", ".join(f"{m}.describe()" for m in modules)
    if stem == "main":
        body = (
            "def main() -> None:\n"
            f"    print('ready: ' + ', '.join([{parts}]))\n\n\n"
            'if __name__ == "__main__":\n'
            "    main()\n"
        )
        return head + ("\n" if imports else "") + body
    describe = f"NAME + '(' + ', '.join([{parts}]) + ')'" if modules else "NAME"
    body = f"NAME = {stem!r}\n\n\ndef describe() -> str:\n    return {describe}\n"
    return head + body


def _review(filename: str) -> dict[str, object]:
    return {
        "filename": filename,
        "findings": [f"{filename} follows its task and uses only the interfaces it imports."],
        "verdict": "LGTM",
        "corrected_code": None,
    }


def _line(text: str, key: str) -> str | None:
    m = _LINE[key].search(text)
    return m.group(1).strip() if m else None


def _names(line: str | None) -> list[str]:
    if not line or line.strip().lower() in ("none", "-"):
        return []
    return [n.strip().strip("`") for n in line.split(",") if n.strip()]


class TeamResponder:
    """A stand-in for the whole team (see the module docstring)."""

    def __init__(self, n_files: int = DEFAULT_FILES) -> None:
        self.plan = plan_files(n_files)

    def __call__(self, req: ChatRequest) -> Reply:
        text = "\n".join(str(m.get("content", "")) for m in req.messages)
        m = _ACTION.search(text)
        if m is None:
            return echo(req)
        action = m.group(2)
        limit = (req.max_tokens or 0) * _CHARS_PER_TOKEN
        build = getattr(self, f"_{action}", None)
        if build is None:
            return echo(req)
        full = build(req, text, compact=False)
        if limit and len(full.text) > limit:
            return build(req, text, compact=True)
        return full

    def _WritePRD(self, req: ChatRequest, text: str, compact: bool) -> Reply:  # noqa: N802
        requirement = _line(text, "Requirement") or " ".join(req.last_user.split())[:200]
        body = json.dumps(_prd(requirement or "a small project", compact))
        return Reply(f"[CONTENT]\n{body}\n[/CONTENT]", tag="WritePRD")

    def _WriteDesign(self, req: ChatRequest, text: str, compact: bool) -> Reply:  # noqa: N802
        body = json.dumps(_design(self.plan, compact), indent=None if compact else 2)
        return Reply(f"```json\n{body}\n```", tag="WriteDesign")

    def _WriteTasks(self, req: ChatRequest, text: str, compact: bool) -> Reply:  # noqa: N802
        listed = [n for n in _names(_line(text, "Files")) if n]
        plan = self.plan if not listed or set(listed) == set(self.plan.files) else plan_for_names(listed)
        return Reply(json.dumps(_tasks(plan, compact)), tag="WriteTasks")

    def _WriteCode(self, req: ChatRequest, text: str, compact: bool) -> Reply:  # noqa: N802
        filename = _line(text, "File") or "main.py"
        deps_line = _line(text, "Depends on")
        deps = _names(deps_line) if deps_line is not None else list(self.plan.deps.get(filename, ()))
        code = _code(filename, deps, compact)
        return Reply(json.dumps({"filename": filename, "code": code}), tag=f"WriteCode:{filename}")

    def _WriteCodeReview(self, req: ChatRequest, text: str, compact: bool) -> Reply:  # noqa: N802
        filename = _line(text, "File") or "main.py"
        return Reply(json.dumps(_review(filename)), tag=f"WriteCodeReview:{filename}")


def make_team_responder(spec: str = "team") -> Callable[[ChatRequest], Reply]:
    """The responder for a spec `team` or `team:N` (N source files, default 4).

    Raises:
        ValueError: a spec that is not `team` or `team:N` with N a positive integer.
    """
    name, _, count = spec.partition(":")
    if name != "team" or (count and not count.isdigit()) or (count and int(count) < 1):
        raise ValueError(f"--responder: {spec!r} is not 'team' or 'team:N' (N source files, N >= 1)")
    return TeamResponder(int(count) if count else DEFAULT_FILES)


#: the name `polyteam.emulator.responders` looks for
make_responder = make_team_responder
