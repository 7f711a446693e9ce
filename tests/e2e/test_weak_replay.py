"""Full `polyteam run`s on real small-model replies, replayed over a real socket (issue 12).

The replies in tests/data/ were recorded from SmolLM2-135M-Instruct behind polyteam's own llama.cpp
server (`benchmarks/weak_models.py record`), with the JSON-schema grammar on and off. Served by
`_replay_server.ReplayServer` (simple matching: action, schema or not, re-ask or not), every run
must exit 0 with a task list that is the design's, and every Python file must compile (compile()
only: generated code is never run). One run wraps every reply in a <think> block: no later prompt
may carry it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _replay_server import DATA, THINK_MARK, ReplayServer
from _support import project_in, run_polyteam

GRAMMAR = DATA / "smollm2_grammar.jsonl"
PLAIN = DATA / "smollm2_plain.jsonl"
ROLES = ("ProductManager", "Architect", "ProjectManager", "Engineer")


def write_config(folder: Path, base_url: str, *, grammar: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text("{}\n")
    routes = "".join(f"{role}: smollm2\n" for role in ROLES)
    (folder / "multi_llm_config.yaml").write_text(
        routes
        + "MODEL_LIST:\n  smollm2:\n"
        + f'    open_llm_api_base: "{base_url}"\n    tiny: true\n'
        + f"    json_schema: {'true' if grammar else 'false'}\n"
    )
    return folder


def check_project(project: Path) -> dict[str, object]:
    design = json.loads((project / "docs/system_design.json").read_text())
    tasks = json.loads((project / "docs/tasks.json").read_text())
    planned = list(tasks["task_list"])
    adopted = set(tasks.get("adopted_files") or [])
    assert set(planned) - adopted == set(design["file_list"]), (planned, design["file_list"])
    python = [f for f in planned if f.endswith(".py")]
    assert python, planned
    for f in python:
        code = (project / f).read_text()
        compile(code, f, "exec", dont_inherit=True)  # raises SyntaxError: the test fails
    return {"design": design, "tasks": tasks}


@pytest.mark.parametrize(
    ("grammar", "think", "requirement"),
    [
        (True, False, "a command-line snake game"),
        (False, False, "a command-line snake game"),
        (True, True, "a cli todo list that saves to a json file"),
        (False, True, "a number guessing game"),
    ],
    ids=["grammar", "no-grammar", "grammar-think", "no-grammar-think"],
)
def test_replayed_small_model_runs_finish_and_hold_together(
    tmp_path: Path, grammar: bool, think: bool, requirement: str
) -> None:
    server = ReplayServer([GRAMMAR, PLAIN], think=think).start()
    try:
        config = write_config(tmp_path / "config", server.base_url, grammar=grammar)
        result = run_polyteam(
            "run", requirement, "--workdir", str(tmp_path / "work"), "--config-dir", str(config), "--json"
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["status"] == "done"
    project = project_in(tmp_path / "work")
    planned = check_project(project)["tasks"]["task_list"]
    quality = summary["quality"]
    python = [f for f in planned if f.endswith(".py")]
    assert quality["totals"]["files_compiling"] == len(python) and not quality["not_compiling"]
    assert len(server.requests) >= summary["stats"]["calls"] > 0  # a skipped review is not counted
    schemas = [r for r in server.requests if "response_format" in r]
    assert bool(schemas) is grammar
    if think:
        # the reasoning of earlier replies never reaches a later prompt
        for body in server.requests:
            assert THINK_MARK not in json.dumps(body["messages"])
        assert summary["stats"]["calls"] > 4  # later actions ran on the earlier ones' outputs
