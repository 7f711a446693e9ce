"""The run display (one line per role, live or plain) and the command's summary and notices."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from polyteam.commands.run import _bundled_notice, summary_lines
from polyteam.progress import LiveProgress, NoProgress, PlainProgress, ProgressModel, make_progress
from polyteam.team import RunEvent, RunSummary


def events() -> list[RunEvent]:
    return [
        RunEvent("role", "Engineer", detail="working", ts=10.0),
        RunEvent("start", "Engineer", action="WriteCode", key="WriteCode:a.py", llm="coder", ts=10.0),
        RunEvent("start", "Engineer", action="WriteCode", key="WriteCode:b.py", llm="coder", ts=10.1),
        RunEvent(
            "end",
            "Engineer",
            "WriteCode",
            "WriteCode:a.py",
            "coder",
            input_tokens=100,
            output_tokens=40,
            ts=11.0,
        ),
        RunEvent("start", "Engineer", "WriteCodeReview", "WriteCodeReview:a.py:1", "zhipu", ts=11.0),
        RunEvent("cached", "Architect", "WriteDesign", "WriteDesign", "claude", ts=11.0),
    ]


def test_model_tracks_state_llms_tokens_and_actions_in_flight() -> None:
    model = ProgressModel()
    for e in events():
        model.apply(e)
    eng = model.roles["Engineer"]
    assert eng.state == "working"
    assert eng.llms == ["coder", "zhipu"]
    assert (eng.input_tokens, eng.output_tokens) == (100, 40)
    assert set(eng.active) == {"WriteCode:b.py", "WriteCodeReview:a.py:1"}
    assert eng.elapsed(now=12.5) == 2.5
    assert model.roles["Architect"].cached == 1 and model.roles["Architect"].llms == ["claude"]
    model.apply(RunEvent("role", "Engineer", detail="done", ts=13.0))
    assert eng.state == "done" and eng.active == {} and eng.elapsed(now=99.0) == 3.0


def test_plain_progress_prints_one_unwrapped_line_per_event() -> None:
    out = io.StringIO()
    display = PlainProgress(Console(file=out, width=40))
    for e in events():
        display(e)
    lines = out.getvalue().splitlines()
    assert len(lines) == 5  # the role-state event is not a line
    assert lines[0].endswith("Engineer       WriteCode:a.py -> coder")
    assert "WriteCode:a.py done by coder (100+40 tokens)" in lines[2]
    assert "from the checkpoint (no call)" in lines[4]


def test_live_table_has_one_row_per_role() -> None:
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=True)
    live = LiveProgress(console)
    for e in events():
        live(e)
    console.print(live.render())
    text = out.getvalue()
    for role in ("ProductManager", "Architect", "ProjectManager", "Engineer"):
        assert role in text
    assert "coder, zhipu" in text and "100/40" in text


def test_display_choice_follows_quiet_and_terminal() -> None:
    assert isinstance(make_progress(Console(file=io.StringIO()), quiet=True), NoProgress)
    assert isinstance(make_progress(Console(file=io.StringIO()), quiet=False), PlainProgress)
    assert isinstance(
        make_progress(Console(file=io.StringIO(), force_terminal=True), quiet=False), LiveProgress
    )


def test_bundled_default_gets_a_one_line_notice() -> None:
    bundled = SimpleNamespace(
        router=SimpleNamespace(default_is_bundled=True, default=SimpleNamespace(model="SmolLM2-135M"))
    )
    notice = _bundled_notice(bundled)
    assert notice is not None and "SmolLM2-135M" in notice and "tiny" in notice and "config.yaml" in notice
    assert "\n" not in notice
    configured = SimpleNamespace(router=SimpleNamespace(default_is_bundled=False, default=None))
    assert _bundled_notice(configured) is None


def test_summary_names_the_project_calls_per_llm_cost_and_skips() -> None:
    summary = RunSummary(
        project_path=Path("/w/demo"),
        status="done",
        elapsed_s=12.34,
        calls_by_llm={"openai": 1, "coder": 4},
        tokens_by_llm={"openai": (10, 20), "coder": (1000, 2000)},
        cost_usd=0.0123,
        budget_usd=1.0,
        stats={"repairs": 2, "reasks": 1, "fallbacks": 0},
        skipped=[("../x.py", "'../x.py': '..' leaves the project folder")],
        cached=3,
    )
    text = "\n".join(summary_lines(summary))
    assert "project: /w/demo" in text and "status: done in 12.3s" in text
    assert "calls per LLM: coder 4 calls (1,000+2,000 tokens), openai 1 call (10+20 tokens)" in text
    assert "repairs 2, re-asks 1, fallbacks 0" in text
    assert "cost: $0.0123 of a $1.0000 budget" in text
    assert "3 finished action(s) taken from the checkpoint" in text
    assert "skipped '../x.py'" in text
