"""What a role may write: unsafe, reserved and colliding names are skipped; a user's edit is kept."""

from __future__ import annotations

from pathlib import Path

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
