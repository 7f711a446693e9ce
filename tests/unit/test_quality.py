"""Quality signals per LLM from a run's checkpoint and files (compiled, never run)."""

from __future__ import annotations

from pathlib import Path

from polyteam.quality import assess, quality_lines


def test_quality_per_llm(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import b\nimport os\n")
    (tmp_path / "b.py").write_text("def f(:\n")
    (tmp_path / "c.py").write_text("import nowhere\n")
    done = {
        "WriteDesign": {"file_list": ["a.py", "b.py", "c.py"]},
        "WriteTasks": {"task_list": ["a.py", "b.py", "c.py"], "required_packages": []},
        "WriteCode:a.py": {},
        "WriteCode:b.py": {},
        "WriteCode:c.py": {},
        "WriteCodeReview:a.py:1": {"verdict": "LGTM"},
        "WriteCodeReview:c.py:1": {"verdict": "LBTM", "corrected_code": "import nowhere\n"},
    }
    usage = {
        "WriteDesign": {
            "llm": "big",
            "calls": 3,
            "degraded": True,
            "by_llm": {"big": {"reasks": 1, "gate_failures": 2}},
        },
        "WriteTasks": {"llm": "big", "calls": 1},
        "WriteCode:a.py": {"llm": "tiny", "calls": 1, "by_llm": {"tiny": {"repairs": 1}}},
        "WriteCode:b.py": {"llm": "tiny", "calls": 2},
        "WriteCode:c.py": {"llm": "tiny", "calls": 1},
        "WriteCodeReview:a.py:1": {"llm": "big", "calls": 1},
        "WriteCodeReview:c.py:1": {"llm": "big", "calls": 1},
    }
    q = assess(done, usage, tmp_path)
    tiny, big = q["per_llm"]["tiny"], q["per_llm"]["big"]
    assert (tiny["files_written"], tiny["files_compiling"], tiny["imports_resolved"]) == (2, 1, 1)
    assert (big["files_planned"], big["files_written"], big["files_compiling"], big["imports_resolved"]) == (
        3,
        1,
        1,
        0,
    )
    assert (big["lgtm"], big["lbtm"], big["degraded"], big["reasks"], big["gate_failures"]) == (1, 1, 1, 1, 2)
    assert tiny["repairs"] == 1 and tiny["calls"] == 4
    assert (
        q["not_compiling"] == ["b.py"]
        and q["imports_unresolved"] == ["c.py"]
        and q["degraded"] == ["WriteDesign"]
    )
    lines = quality_lines(q)
    assert lines[0].startswith("quality: files planned 3, written 3, compiling 2, imports resolved 1")
    assert any(line.startswith("  tiny (4 calls)") for line in lines)
    assert "not compiling: b.py" in lines and quality_lines({}) == []


def test_readme_names_files_that_do_not_compile_and_stand_ins() -> None:
    from polyteam.actions.write_code import STUB
    from polyteam.actions.write_design import Design
    from polyteam.actions.write_prd import PRD
    from polyteam.actions.write_tasks import Tasks
    from polyteam.team.roles.engineer import readme_markdown

    code = {"a.py": "def f(:\n", "b.py": STUB.format(filename="b.py", description="x"), "c.py": "X = 1\n"}
    text = readme_markdown(
        PRD(project_name="p"), Design(file_list=list(code)), Tasks(task_list=list(code)), list(code), [], code
    )
    assert (
        "Does not compile: `a.py`" in text and "Stand-ins (no model's reply held valid code): `b.py`" in text
    )
    assert "`c.py`" not in text.split("## Setup")[0].split("| --- | --- |")[1].split("Does not")[1]
