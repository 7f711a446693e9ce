"""What a role may write: unsafe, reserved and colliding names are skipped; a user's edit is kept."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel

import polyteam.redact as redaction
from polyteam.team.artifacts import Artifacts
from polyteam.team.checkpoint import Checkpoint
from polyteam.team.events import Events
from polyteam.team.state import RunState
from polyteam.workspace import Workspace


def make(tmp_path: Path) -> Artifacts:
    ws = Workspace(tmp_path)
    return Artifacts(ws, Checkpoint(RunState(requirement="r"), ws), Events())


def test_a_plan_screen_skips_unsafe_reserved_colliding_and_binary_names(tmp_path: Path) -> None:
    art = make(tmp_path)
    plan = ["docs/prd.md", "docs/tasks.json", "collide", "collide/inner.py", "../x.py", "main\u202egnp.py",
            "ma\u200bin.py", "a\x1b[2Jb.py", "logo.png", "main.py", ".git/hooks/pre-commit", "Main.py"]  # fmt: skip
    assert art.screen("Engineer", plan) == ["collide/inner.py", "main.py"]
    assert {name for name, _ in art.skipped} == set(plan) - {"collide/inner.py", "main.py"}
    assert all("\x1b" not in why and "\u202e" not in why for _, why in art.skipped)


async def test_a_model_file_named_like_polyteams_doc_is_skipped_and_a_collision_is_not_a_crash(
    tmp_path: Path,
) -> None:
    art = make(tmp_path)
    assert await art.write("ProductManager", "docs/prd.md", "# PRD\n")  # polyteam's own write
    assert not await art.write("Engineer", "docs/prd.md", "print('x')\n", model_named=True)
    assert (tmp_path / "docs/prd.md").read_text() == "# PRD\n"
    assert await art.write("Engineer", "collide", "x = 1\n", model_named=True)
    assert not await art.write("Engineer", "collide/inner.py", "y = 1\n", model_named=True)
    assert [name for name, _ in art.skipped] == ["docs/prd.md", "collide/inner.py"]


async def test_registered_secrets_are_masked_in_every_file_and_edits_are_kept(tmp_path: Path) -> None:
    redaction.register_secret("sk-test-secret-value-123456")
    art = make(tmp_path)
    assert await art.write("Engineer", "main.py", 'KEY = "sk-test-secret-value-123456"\npassword = "x1"\n')
    text = (tmp_path / "main.py").read_text()
    assert "sk-test-secret-value" not in text and 'password = "x1"' in text  # only registered ones
    (tmp_path / "main.py").write_text("# mine\n")
    assert await art.write("Engineer", "main.py", "v = 2\n")
    assert (tmp_path / "main.py").read_text() == "# mine\n"
    assert (tmp_path / "main.py.polyteam-new").read_text() == "v = 2\n"
    assert art.kept == [("main.py", "main.py.polyteam-new")]
    assert art.checkpoint.state.files["main.py"]  # the hashes polyteam wrote, kept in the state


class _Doc(BaseModel):
    title: str = "t"

    def to_markdown(self) -> str:
        return f"# {self.title}\n"


_RESULT = SimpleNamespace(llm="m", input_tokens=3, output_tokens=4)


def _spy_writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """Every atomic write, in order: ("state", its JSON) or ("file", the name); the real write follows."""
    import polyteam.workspace as workspace

    real, seen = workspace.atomic_write_bytes, []

    def spy(path: Path, data: bytes, **kwargs: Any) -> None:
        seen.append(("state", json.loads(data)) if path.name == "state.json" else ("file", path.name))
        real(path, data, **kwargs)

    monkeypatch.setattr(workspace, "atomic_write_bytes", spy)
    return seen


async def test_saves_ride_with_the_next_file_write_and_its_hash_reaches_the_disk_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue 15: a record and each remembered hash were a state write (and a thread hop) apiece
    seen = _spy_writes(monkeypatch)
    art = make(tmp_path)
    for key in ("A", "B", "C"):
        art.checkpoint.record(key, "R", "X", _RESULT, _Doc(title=key))
    assert await art.write_doc("R", "docs/prd", _Doc())
    assert [kind for kind, _ in seen] == ["state", "file", "file"]  # three records, two hashes: one write
    state = seen[0][1]
    assert set(state["done"]) == {"A", "B", "C"}
    assert set(state["files"]) == {"docs/prd.md", "docs/prd.json"}  # on disk before either file


async def test_flushed_waits_for_a_save_no_file_write_carries(tmp_path: Path) -> None:
    art = make(tmp_path)
    art.checkpoint.record("WritePRD", "R", "X", _RESULT, _Doc())
    await art.checkpoint.flushed()
    assert set(art.workspace.load_state()["done"]) == {"WritePRD"}


async def test_a_failed_background_save_is_raised_by_flushed_and_written_by_the_next_save(
    tmp_path: Path,
) -> None:
    art = make(tmp_path)
    (tmp_path / ".polyteam").write_text("a file where the state folder goes")
    art.checkpoint.record("WritePRD", "R", "X", _RESULT, _Doc())
    with pytest.raises(OSError):
        await art.checkpoint.flushed()
    (tmp_path / ".polyteam").unlink()
    await art.checkpoint.save()
    assert set(art.workspace.load_state()["done"]) == {"WritePRD"}
