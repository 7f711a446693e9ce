"""Fuzz: a state.json or ledger line with wrong-typed fields is one line and exit 2, never a traceback.

Drives the CLI in-process (`polyteam.cli.main`) exactly as a user does: `run --resume PROJECT` over
a mutated state.json, `report PROJECT` over mutated ledger lines. Exit status 0 or 2 only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)

DONE_STATE: dict[str, Any] = {
    "version": 1,
    "requirement": "a demo app",
    "project_name": "demo",
    "done": {"WritePRD": {"project_name": "demo"}},
    "stats": {"repairs": 0, "reasks": 0, "fallbacks": 0, "calls": 1},
    "status": "done",
    "settings": {"review_k": 1, "config_dir": None, "max_rounds": 20},
    "usage": {"WritePRD": {"role": "ProductManager", "action": "WritePRD", "llm": "x", "calls": 1,
                           "input_tokens": 1, "output_tokens": 1}},
    "error": "",
    "elapsed_s": 1.0,
    "started": 1.0,
    "files": {"docs/prd.md": ["0" * 64]},
}  # fmt: skip

LEDGER_LINE: dict[str, Any] = {
    "ts": "2026-01-01T00:00:00+00:00", "call_id": "c1", "attempt": 1, "role": "ProductManager",
    "action": "WritePRD", "llm": "openai", "provider": "openai", "model": "gpt-4o-mini",
    "base_url": "http://x/v1", "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.001,
    "latency_s": 0.1, "status": "ok", "error": None,
}  # fmt: skip


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    from polyteam.cli import main

    monkeypatch.setattr(sys, "argv", ["polyteam", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    out = capsys.readouterr()
    return code, out.out + out.err


def _mutate(base: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    doc = json.loads(json.dumps(base))
    for key in data.draw(st.lists(st.sampled_from(sorted(base)), min_size=1, max_size=3, unique=True)):
        doc[key] = data.draw(json_values)
    return doc


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_resume_over_a_fuzzed_state_is_exit_0_or_2(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    state = _mutate(DONE_STATE, data)
    assume(state.get("status") not in ("running", "budget", "interrupted", "failed"))  # would call an LLM
    project = tmp_path_factory.mktemp("p")
    (project / ".polyteam").mkdir()
    (project / ".polyteam" / "state.json").write_text(json.dumps(state))
    code, text = cli(monkeypatch, capsys, "run", "--resume", str(project), "--quiet")
    assert code in (0, 2), text
    assert "Traceback" not in text
    if code == 2:
        assert len(text.strip().splitlines()) == 1, text


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_report_over_fuzzed_ledger_lines_is_exit_0_or_2(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    lines = [_mutate(LEDGER_LINE, data) for _ in range(data.draw(st.integers(1, 3)))]
    project = tmp_path_factory.mktemp("p")
    (project / ".polyteam").mkdir()
    (project / ".polyteam" / "ledger.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (project / ".polyteam" / "state.json").write_text(json.dumps(_mutate(DONE_STATE, data)))
    code, text = cli(monkeypatch, capsys, "report", str(project))
    assert code in (0, 2), text
    assert "Traceback" not in text


def test_a_wrong_typed_state_field_names_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".polyteam").mkdir()
    bad = {**DONE_STATE, "usage": {"WritePRD": {"calls": "many"}}}
    (tmp_path / ".polyteam" / "state.json").write_text(json.dumps(bad))
    code, text = cli(monkeypatch, capsys, "run", "--resume", str(tmp_path))
    assert code == 2 and "usage.WritePRD.calls" in text and len(text.strip().splitlines()) == 1


finite_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["record", "replace", "drop"]), st.sampled_from(["A", "B:x.py", "C\u00e9"]),
                  finite_json),
        max_size=12,
    ),
    error=st.text(max_size=12),
)  # fmt: skip
def test_the_serialised_state_is_always_its_json_form(steps: list[tuple[str, str, Any]], error: str) -> None:
    # issue 15: to_bytes reuses each done entry's JSON; it must never write a stale or dropped one
    from polyteam.team.state import RunState

    state = RunState(requirement="a demo app")
    for op, key, value in steps:
        if op == "record":
            state.record_done(key, {"v": value}, {"role": "R", "action": "X", "llm": "m"})
        elif op == "replace" and key in state.done:
            state.done[key] = {"w": value}  # a replay that found the saved one no longer valid, say
        elif op == "drop":
            state.done.pop(key, None)
        state.error = error
        data = state.to_bytes()
        assert data.endswith(b"\n") and data.count(b"\n") == 1
        assert json.loads(data) == json.loads(json.dumps(state.to_json()))
