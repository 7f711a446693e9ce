"""The team's flow with a scripted gateway: artifacts, concurrency, reviews, checkpoints, stops.

No sockets here: the fake gateway answers `gateway.ask` with scripted JSON, so these tests pin
the team's own logic (the real wire paths are the e2e tests' job). Concurrency is asserted with
events and deadlines, never with sleeps.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from polyteam.errors import BudgetExceededError, ServerError
from polyteam.providers.base import Completion, Endpoint
from polyteam.team import RunEvent, Team
from polyteam.workspace import Workspace

DEADLINE = 5.0


def prd(name: str = "demo_app") -> dict[str, Any]:
    return {
        "project_name": name,
        "original_requirement": "a demo app",
        "product_goals": ["work"],
        "user_stories": ["As a user, I want it to work"],
        "requirement_pool": [{"requirement": "run", "priority": "P0"}],
        "ui_design_notes": "",
        "open_questions": [],
    }


def design(files: list[str]) -> dict[str, Any]:
    return {
        "implementation_approach": "plain python",
        "file_list": files,
        "data_structures_and_interfaces": "classDiagram\n  class A",
        "program_call_flow": "sequenceDiagram\n  A->>B: hi",
        "third_party_packages": [],
        "anything_unclear": "",
    }


def tasks(analysis: list[tuple[str, list[str]]], packages: list[str] | None = None) -> dict[str, Any]:
    return {
        "required_packages": packages if packages is not None else ["requests>=2"],
        "logic_analysis": [
            {"file": f, "description": f"the {f} module", "depends_on": d} for f, d in analysis
        ],
        "task_list": [f for f, _ in analysis],
        "shared_knowledge": "",
        "anything_unclear": "",
    }


def code_for(filename: str, version: int = 1) -> str:
    return f"# {filename}\nVERSION = {version}\n"


@dataclass
class Call:
    role: str
    action: str
    key: str
    llm: str | None


@dataclass
class FakeGateway:
    """Answers every action from a script; `hooks[key]` may await something first (to prove overlap)."""

    analysis: list[tuple[str, list[str]]]
    reviews: dict[str, list[str]] = field(default_factory=dict)  # file -> verdicts per round
    hooks: dict[str, Callable[[], Any]] = field(default_factory=dict)
    fail: dict[str, BaseException] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    started: dict[str, asyncio.Event] = field(default_factory=dict)
    closed: bool = False
    router: Any = None

    def event(self, key: str) -> asyncio.Event:
        return self.started.setdefault(key, asyncio.Event())

    def chain(self, role: str, action: str) -> list[str]:
        return [f"llm-{action}"]

    async def ask(self, role, action, messages, options=None, on_delta=None, llm=None):  # noqa: ANN001
        text = "\n".join(m.content for m in messages)
        match = re.search(r"^File: (.+)$", text, re.MULTILINE)
        key = f"{action}:{match.group(1).strip()}" if match else action
        if action == "WriteCodeReview":
            key += f":{sum(1 for c in self.calls if c.key.startswith(key)) + 1}"
        self.calls.append(Call(role, action, key, llm))
        self.event(key).set()
        hook = self.hooks.get(key)
        if hook is not None:
            await hook()
        if key in self.fail:
            self.event(f"failed:{key}").set()
            raise self.fail[key]
        reply = self.reply(action, key, match.group(1).strip() if match else "")
        return SimpleNamespace(
            completion=Completion(text=json.dumps(reply), input_tokens=10, output_tokens=5, model="m"),
            llm=f"llm-{action}",
        )

    async def ask_structured(self, role: str, action: str, stage: Any, llm: str | None = None) -> Any:
        """The gateway's per-LLM stage over one scripted LLM that answers through `ask`."""
        gateway = self

        class _Provider:
            endpoint = Endpoint(
                llm=f"llm-{action}", kind="openai", base_url="http://127.0.0.1:1/v1", model="m"
            )

            async def complete(self, messages: Any, options: Any) -> Completion:
                return (await gateway.ask(role, action, messages, options)).completion

        return await stage.run(_Provider())

    def reply(self, action: str, key: str, filename: str) -> dict[str, Any]:
        files = [f for f, _ in self.analysis]
        if action == "WritePRD":
            return prd()
        if action == "WriteDesign":
            return design(files)
        if action == "WriteTasks":
            return tasks(self.analysis)
        if action == "WriteCode":
            return {"filename": filename, "code": code_for(filename)}
        round_no = int(key.rsplit(":", 1)[1])
        verdicts = self.reviews.get(filename, ["LGTM"])
        verdict = verdicts[min(round_no, len(verdicts)) - 1]
        out: dict[str, Any] = {"filename": filename, "findings": [f"round {round_no}"], "verdict": verdict}
        if verdict == "LBTM":
            out["corrected_code"] = code_for(filename, round_no + 1)
        return out

    async def aclose(self) -> None:
        self.closed = True


def settings(review_k: int = 1) -> Any:
    router = SimpleNamespace(route=lambda role, action: SimpleNamespace(llm=f"llm-{action}"), default=None)
    return SimpleNamespace(router=router, code_review_k=review_k, max_budget=None, config_dir=None)


def make_team(gateway: FakeGateway, review_k: int = 1, **kw: Any) -> Team:
    return Team.standard(
        settings(review_k), gateway_factory=lambda meter: gateway, meter_factory=lambda d, b: None, **kw
    )


THREE = [("a.py", []), ("b.py", []), ("c.py", ["a.py", "b.py"])]


async def run(team: Team, tmp_path: Path, events: list[RunEvent] | None = None, **kw: Any):
    sink = events.append if events is not None else None
    return await asyncio.wait_for(
        team.arun("Build a demo app", workdir=tmp_path, on_event=sink, **kw), DEADLINE * 2
    )


async def test_standard_team_writes_every_artifact(tmp_path: Path) -> None:
    gw = FakeGateway(THREE)
    path, summary = await run(make_team(gw), tmp_path)
    assert summary.status == "done" and summary.ok
    assert path == tmp_path / "build_a_demo_app"  # named once, from the requirement; never moved
    for name in (
        "docs/requirement.txt",
        "docs/prd.md",
        "docs/prd.json",
        "docs/system_design.md",
        "docs/system_design.json",
        "docs/tasks.md",
        "docs/tasks.json",
        "requirements.txt",
        "README.md",
        "a.py",
        "b.py",
        "c.py",
        "docs/code_review/a.py.md",
        "docs/code_review/c.py.md",
        ".polyteam/state.json",
    ):
        assert (path / name).is_file(), name
    assert (path / "requirements.txt").read_text() == "requests>=2\n"
    assert (path / "docs/requirement.txt").read_text() == "Build a demo app\n"
    assert json.loads((path / "docs/prd.json").read_text())["project_name"] == "demo_app"
    assert "`c.py`" in (path / "README.md").read_text()
    state = Workspace(path).load_state()
    assert state["status"] == "done" and state["project_name"] == "demo_app"
    assert set(state["done"]) == {
        "WritePRD",
        "WriteDesign",
        "WriteTasks",
        "WriteCode:a.py",
        "WriteCode:b.py",
        "WriteCode:c.py",
        "WriteCodeReview:a.py:1",
        "WriteCodeReview:b.py:1",
        "WriteCodeReview:c.py:1",
    }
    assert state["stats"]["calls"] == 9
    assert summary.calls_by_llm == {
        "llm-WritePRD": 1,
        "llm-WriteDesign": 1,
        "llm-WriteTasks": 1,
        "llm-WriteCode": 3,
        "llm-WriteCodeReview": 3,
    }
    assert gw.closed
    assert [c.action for c in gw.calls[:3]] == ["WritePRD", "WriteDesign", "WriteTasks"]


async def test_independent_files_overlap_and_dependents_wait(tmp_path: Path) -> None:
    gw = FakeGateway(THREE)
    events: list[RunEvent] = []

    async def wait_for(key: str) -> None:
        await asyncio.wait_for(gw.event(key).wait(), DEADLINE)  # times out (and fails) if not concurrent

    # a.py's reply waits until b.py was requested and vice versa: only concurrent requests finish
    gw.hooks["WriteCode:a.py"] = lambda: wait_for("WriteCode:b.py")
    gw.hooks["WriteCode:b.py"] = lambda: wait_for("WriteCode:a.py")
    path, summary = await run(make_team(gw), tmp_path, events)
    assert summary.status == "done", summary.error
    order = [(e.kind, e.key or e.detail) for e in events if e.kind in ("start", "written")]
    start_c = order.index(("start", "WriteCode:c.py"))
    assert order.index(("written", "a.py")) < start_c and order.index(("written", "b.py")) < start_c
    assert (path / "c.py").read_text() == code_for("c.py")


async def test_review_of_a_file_runs_while_other_files_are_written(tmp_path: Path) -> None:
    gw = FakeGateway([("a.py", []), ("b.py", [])])

    async def b_waits_for_review_of_a() -> None:
        await asyncio.wait_for(gw.event("WriteCodeReview:a.py:1").wait(), DEADLINE)

    gw.hooks["WriteCode:b.py"] = b_waits_for_review_of_a
    _, summary = await run(make_team(gw), tmp_path)
    assert summary.status == "done", summary.error


async def test_a_written_file_releases_its_dependents_before_its_review_is_sent(tmp_path: Path) -> None:
    # issue 15: the dependent's WriteCode is on the critical path, the review is not
    gw = FakeGateway([("a.py", []), ("b.py", ["a.py"])])
    _, summary = await run(make_team(gw), tmp_path)
    assert summary.status == "done", summary.error
    keys = [c.key for c in gw.calls]
    assert keys.index("WriteCode:b.py") < keys.index("WriteCodeReview:a.py:1")


async def test_each_file_gets_only_its_own_dependencies(tmp_path: Path) -> None:
    seen: dict[str, str] = {}
    gw = FakeGateway([("a.py", []), ("b.py", []), ("c.py", ["a.py"])])
    original = gw.ask

    async def spy(role, action, messages, options=None, on_delta=None, llm=None):  # noqa: ANN001
        if action == "WriteCode":
            text = "\n".join(m.content for m in messages)
            seen[re.search(r"^File: (.+)$", text, re.MULTILINE).group(1)] = text
        return await original(role, action, messages, options, on_delta, llm)

    gw.ask = spy  # type: ignore[method-assign]
    await run(make_team(gw, review_k=0), tmp_path)
    assert "VERSION" in seen["c.py"] and "# a.py" in seen["c.py"]
    assert "# b.py" not in seen["c.py"]


async def test_dependency_cycle_is_written_in_task_order(tmp_path: Path) -> None:
    gw = FakeGateway([("a.py", ["b.py"]), ("b.py", ["a.py"])])
    events: list[RunEvent] = []
    path, summary = await run(make_team(gw, review_k=0), tmp_path, events)
    assert summary.status == "done", summary.error
    assert (path / "a.py").is_file() and (path / "b.py").is_file()
    writes = [c.key for c in gw.calls if c.action == "WriteCode"]
    assert writes == ["WriteCode:a.py", "WriteCode:b.py"]
    assert any("cycle" in n for n in summary.notes)


async def test_unsafe_file_names_never_reach_the_disk(tmp_path: Path) -> None:
    # the design's file-name gate rejects them (re-ask, then the design degrades); the Engineer's
    # own safe-path check stays behind it (tests/unit/test_workspace.py)
    workdir = tmp_path / "work"
    gw = FakeGateway([("../../x.py", []), ("/etc/x", []), ("NUL.py", []), ("ok.py", [])])
    path, summary = await run(make_team(gw, review_k=0), workdir)
    assert summary.status == "done", summary.error
    assert not (tmp_path / "x.py").exists() and not (workdir.parent.parent / "x.py").exists()
    requested = [c.key for c in gw.calls if c.action == "WriteCode"]
    assert requested and not any(".." in k or "/etc" in k for k in requested)
    assert [c.key for c in gw.calls].count("WriteDesign") == 3  # asked, re-asked, then the plain list
    assert summary.stats["degraded"] >= 1 and summary.stats["gate_failures"] >= 2
    outside = {p for p in tmp_path.rglob("*") if p.is_file() and workdir not in p.parents}
    assert outside == set()


async def test_binary_assets_never_reach_the_plan(tmp_path: Path) -> None:
    gw = FakeGateway([("assets/logo.png", []), ("sound.WAV", []), ("main.py", ["assets/logo.png"])])
    path, summary = await run(make_team(gw, review_k=0), tmp_path)
    assert summary.status == "done", summary.error
    assert [c.key for c in gw.calls if c.action == "WriteCode"] == ["WriteCode:main.py"]
    assert not (path / "assets").exists() and (path / "main.py").is_file()


async def test_lbtm_writes_the_corrected_file_and_reviews_it_again(tmp_path: Path) -> None:
    gw = FakeGateway([("a.py", []), ("b.py", [])], reviews={"a.py": ["LBTM", "LGTM"], "b.py": ["LGTM"]})
    path, summary = await run(make_team(gw, review_k=2), tmp_path)
    assert summary.status == "done", summary.error
    assert (path / "a.py").read_text() == code_for("a.py", 2)
    assert (path / "b.py").read_text() == code_for("b.py", 1)
    review = (path / "docs/code_review/a.py.md").read_text()
    assert "Round 1: LBTM" in review and "Round 2: LGTM" in review
    keys = [c.key for c in gw.calls if c.action == "WriteCodeReview"]
    assert sorted(keys) == ["WriteCodeReview:a.py:1", "WriteCodeReview:a.py:2", "WriteCodeReview:b.py:1"]


async def test_review_rounds_are_capped_and_zero_turns_review_off(tmp_path: Path) -> None:
    gw = FakeGateway([("a.py", [])], reviews={"a.py": ["LBTM"]})
    path, _ = await run(make_team(gw, review_k=1), tmp_path / "one")
    assert [c.key for c in gw.calls if c.action == "WriteCodeReview"] == ["WriteCodeReview:a.py:1"]
    assert (path / "a.py").read_text() == code_for("a.py", 2)

    gw0 = FakeGateway([("a.py", [])])
    path0, summary = await run(make_team(gw0), tmp_path / "zero", review_k=0)
    assert summary.status == "done"
    assert not any(c.action == "WriteCodeReview" for c in gw0.calls)
    assert not (path0 / "docs/code_review").exists()


async def test_budget_stop_saves_state_and_resume_never_repeats_a_saved_call(tmp_path: Path) -> None:
    gw = FakeGateway(THREE, fail={"WriteCode:c.py": BudgetExceededError(0.5, 0.5, 0.1)})
    path, summary = await run(make_team(gw), tmp_path)
    assert summary.status == "budget"
    assert "budget" in summary.error
    state = Workspace(path).load_state()
    assert state["status"] == "budget"
    assert {"WritePRD", "WriteDesign", "WriteTasks", "WriteCode:a.py", "WriteCode:b.py"} <= set(state["done"])
    assert "WriteCode:c.py" not in state["done"]

    gw2 = FakeGateway(THREE)
    _, resumed = await asyncio.wait_for(make_team(gw2).aresume(path), DEADLINE)
    assert resumed.status == "done", resumed.error
    asked = {c.key for c in gw2.calls}
    assert asked.isdisjoint(state["done"])
    assert "WriteCode:c.py" in asked
    assert (path / "c.py").is_file() and (path / "README.md").is_file()
    assert Workspace(path).load_state()["status"] == "done"
    assert resumed.cached == len(state["done"])


async def test_a_failed_action_stops_the_run_with_one_line(tmp_path: Path) -> None:
    err = ServerError(
        "overloaded", llm="claude", provider="claude", base_url="http://127.0.0.1:1", status=529
    )
    gw = FakeGateway(THREE, fail={"WriteDesign": err})
    path, summary = await run(make_team(gw), tmp_path)
    assert summary.status == "failed"
    assert "WriteDesign" in summary.error and "\n" not in summary.error
    assert Workspace(path).load_state()["status"] == "failed"
    assert not any(c.action == "WriteTasks" for c in gw.calls)


async def test_in_flight_actions_finish_and_are_saved_when_another_fails(tmp_path: Path) -> None:
    gw = FakeGateway(THREE, fail={"WriteCode:a.py": ServerError("down")})

    async def a_fails_once_b_is_in_flight() -> None:
        await asyncio.wait_for(gw.event("WriteCode:b.py").wait(), DEADLINE)

    async def b_finishes_after_a_failed() -> None:
        await asyncio.wait_for(gw.event("failed:WriteCode:a.py").wait(), DEADLINE)

    gw.hooks["WriteCode:a.py"] = a_fails_once_b_is_in_flight
    gw.hooks["WriteCode:b.py"] = b_finishes_after_a_failed
    path, summary = await run(make_team(gw), tmp_path)
    assert summary.status == "failed"
    done = Workspace(path).load_state()["done"]
    assert "WriteCode:b.py" in done and "WriteCode:c.py" not in done
    assert not any(c.key == "WriteCode:c.py" for c in gw.calls)


async def test_cancel_saves_state_as_interrupted(tmp_path: Path) -> None:
    gw = FakeGateway(THREE)
    hold = asyncio.Event()
    gw.hooks["WriteCode:c.py"] = hold.wait  # never set: the run is cancelled while c.py is in flight
    task = asyncio.create_task(make_team(gw).arun("Build a demo app", workdir=tmp_path))
    await asyncio.wait_for(gw.event("WriteCode:c.py").wait(), DEADLINE)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    state = Workspace(tmp_path / "build_a_demo_app").load_state()
    assert state["status"] == "interrupted"
    assert "WriteCode:a.py" in state["done"] and "WriteCode:c.py" not in state["done"]
    assert gw.closed


async def test_round_limit_ends_the_run(tmp_path: Path) -> None:
    gw = FakeGateway(THREE)
    _, summary = await run(make_team(gw, max_rounds=2), tmp_path)
    assert summary.status == "failed" and "round limit" in summary.error
    assert [c.action for c in gw.calls] == ["WritePRD", "WriteDesign"]


async def test_existing_project_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "build_a_demo_app").mkdir()
    (tmp_path / "build_a_demo_app" / "mine.txt").write_text("keep")
    path, _ = await run(make_team(FakeGateway([("a.py", [])])), tmp_path, review_k=0)
    assert path == tmp_path / "build_a_demo_app-2"
    assert (tmp_path / "build_a_demo_app" / "mine.txt").read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build_a_demo_app", "build_a_demo_app-2"]


async def test_the_prd_name_never_moves_or_replaces_a_folder(tmp_path: Path) -> None:
    # the model names the project after an earlier one; --overwrite must not touch it
    (tmp_path / "demo_app" / ".polyteam").mkdir(parents=True)
    (tmp_path / "demo_app" / "mine.txt").write_text("keep")
    path, summary = await run(make_team(FakeGateway([("a.py", [])])), tmp_path, review_k=0, overwrite=True)
    assert summary.ok and path == tmp_path / "build_a_demo_app"
    assert (tmp_path / "demo_app" / "mine.txt").read_text() == "keep"


def test_sync_run_api(tmp_path: Path) -> None:
    path, summary = make_team(FakeGateway([("a.py", [])])).run(
        "Build a demo app", workdir=tmp_path, review_k=0
    )
    assert summary.ok and (path / "a.py").read_text() == code_for("a.py")


async def test_a_review_that_cannot_be_had_keeps_the_file_and_is_noted(tmp_path: Path) -> None:
    from polyteam.errors import MalformedReplyError

    gw = FakeGateway([("a.py", [])], fail={"WriteCodeReview:a.py:1": MalformedReplyError("no JSON")})
    path, summary = await run(make_team(gw), tmp_path)
    assert summary.status == "done", summary.error
    assert (path / "a.py").read_text() == code_for("a.py")
    assert any("WriteCodeReview:a.py:1" in n and "skipped" in n for n in summary.notes)


def test_state_keeps_generated_code_verbatim_but_redacts_the_rest(tmp_path: Path) -> None:
    from polyteam.team.state import RunState

    code = (
        'import os\napi_key = os.environ["SERVICE_KEY"]\nheaders = {"Authorization": f"Bearer {api_key}"}\n'
    )
    state = RunState(requirement="r", done={"WriteCode:a.py": {"filename": "a.py", "code": code}})
    state.error = "WriteCode:a.py: Authorization: Bearer abcdefghijklmnop rejected"
    ws = Workspace(tmp_path)
    state.save(ws)
    back = RunState.load(ws)
    assert back.done["WriteCode:a.py"]["code"] == code  # a resume replays it into a.py unchanged
    assert "abcdefghijklmnop" not in ws.state_path.read_text().replace(code, "")


async def test_a_run_never_fsyncs_on_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 7: blocking fsyncs on the loop stalled every run of the process; they belong in worker threads
    import os
    import threading

    real, seen = os.fsync, []

    def fsync(fd: int) -> None:
        seen.append((threading.get_ident(), os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)

    monkeypatch.setattr("os.fsync", fsync)
    loop_thread = threading.get_ident()
    path, summary = await run(make_team(FakeGateway(THREE)), tmp_path)
    assert summary.status == "done", summary.error
    assert seen and all(thread != loop_thread for thread, _ in seen)
    paths = [p for _, p in seen]
    last_state = max(i for i, p in enumerate(paths) if "/.polyteam/.state.json." in p)
    for name in ("a.py", "b.py", "c.py", "docs/prd.md", "README.md"):
        assert paths.index(str(path / name)) < last_state  # the final checkpoint comes after its files
    assert Workspace(path).load_state()["status"] == "done"
