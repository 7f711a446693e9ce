"""Project folders, names and paths from a model: nothing is written outside the project."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from pathlib import Path

import pytest

from polyteam.errors import PolyteamError, UnsafePathError
from polyteam.safepath import check_model_path, collisions, is_reserved
from polyteam.workspace import (
    BESIDE_SUFFIX,
    Workspace,
    atomic_write_bytes,
    check_relative_path,
    content_hash,
    create_project_dir,
    is_binary_asset,
    requirement_slug,
    sanitize_project_name,
)


def _all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Snake Game (CLI)!", "snake_game_cli"),
        ("../../etc/passwd", "etc_passwd"),
        ("  ", "project"),
        ("CON", "con_project"),
        ("Café—Tool", "cafe_tool"),
        ("a" * 200, "a" * 60),
    ],
)
def test_project_names_are_sanitised(raw: str, expected: str) -> None:
    assert sanitize_project_name(raw) == expected


def test_requirement_slug_uses_the_first_words() -> None:
    assert requirement_slug("Write a CLI todo app with sqlite storage and tags") == "write_a_cli_todo_app"


def test_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    first = create_project_dir(tmp_path, "demo")
    (first / "keep.txt").write_text("mine")
    second = create_project_dir(tmp_path, "demo")
    third = create_project_dir(tmp_path, "demo")
    assert (first.name, second.name, third.name) == ("demo", "demo-2", "demo-3")
    assert (first / "keep.txt").read_text() == "mine"


def test_overwrite_replaces_only_a_previous_polyteam_project(tmp_path: Path) -> None:
    old = create_project_dir(tmp_path, "demo")
    Workspace(old).save_state({"version": 1})
    (old / "stale.py").write_text("x = 1")
    again = create_project_dir(tmp_path, "demo", overwrite=True)
    assert again == old and not (again / "stale.py").exists()

    foreign = tmp_path / "theirs"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not ours")
    made = create_project_dir(tmp_path, "theirs", overwrite=True)
    assert made.name == "theirs-2"
    assert (foreign / "notes.txt").read_text() == "not ours"


def test_overwrite_never_replaces_a_project_of_another_requirement(tmp_path: Path) -> None:
    old = create_project_dir(tmp_path, "demo")
    Workspace(old).save_state({"version": 1, "requirement": "a todo app"})
    (old / "mine.txt").write_text("user file")
    made = create_project_dir(tmp_path, "demo", overwrite=True, requirement="a chess engine")
    assert made.name == "demo-2" and (old / "mine.txt").read_text() == "user file"
    again = create_project_dir(tmp_path, "demo", overwrite=True, requirement="a todo app")
    assert again == old and not (old / "mine.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "demo-2"]  # nothing left aside


def test_concurrent_creation_gives_every_caller_its_own_folder(tmp_path: Path) -> None:
    barrier = threading.Barrier(20)
    made: list[Path] = []

    def create() -> None:
        barrier.wait(10)
        made.append(create_project_dir(tmp_path, "demo"))

    threads = [threading.Thread(target=create) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(made) == 20 and len(set(made)) == 20 and all(p.is_dir() for p in made)


@pytest.mark.parametrize(
    "name",
    [
        "../../x.py",
        "src/../../x.py",
        "/etc/x",
        "\\\\server\\share\\x.py",
        "C:\\Windows\\x.py",
        "c:x.py",
        "~/x.py",
        "CON",
        "nul.txt",
        "src/com1.py",
        "LPT9.log",
        "a\x00b.py",
        "a\nb.py",
        ".polyteam/state.json",
        ".POLYTEAM/x",
        ".git/config",
        "main\u202egnp.py",  # a bidi override shows as mainyp.png
        "ma\u200bin.py",  # zero-width space
        "a\x1b]0;title\x07.py",  # an escape sequence
        "a\x7fb.py",  # DEL
        "a\x85b.py",  # a C1 control
        "a\u2028b.py",  # line separator
        "notes.",
        "",
        "./",
        "file.py:stream",
    ],
)
def test_unsafe_names_are_rejected(tmp_path: Path, name: str) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    before = _all_files(tmp_path)
    with pytest.raises(UnsafePathError):
        Workspace(project).write_text(name, "print('pwned')\n")
    assert _all_files(tmp_path) == before


@pytest.mark.parametrize(
    ("name", "clean"),
    [
        ("./src/app.py", "src/app.py"),
        ("pkg\\mod.py", "pkg/mod.py"),
        ("console.py", "console.py"),
        (".env.example", ".env.example"),
    ],
)
def test_ordinary_names_are_accepted(name: str, clean: str) -> None:
    assert str(check_relative_path(name)) == clean


def test_unsafe_message_shows_the_name_escaped(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError) as info:
        check_relative_path("../\x00evil")
    assert "\x00" not in str(info.value) and "evil" in str(info.value)


def test_symlink_escape_is_rejected_and_nothing_lands_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    project = tmp_path / "proj"
    project.mkdir()
    (project / "link").symlink_to(outside, target_is_directory=True)
    (project / "file_link.py").symlink_to(outside / "target.py")
    ws = Workspace(project)
    for name in ("link/x.py", "link/sub/deeper.py", "file_link.py"):
        with pytest.raises(UnsafePathError):
            ws.write_text(name, "x = 1\n")
    assert list(outside.iterdir()) == []


def test_symlink_inside_the_project_is_allowed(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "real").mkdir(parents=True)
    (project / "alias").symlink_to(project / "real", target_is_directory=True)
    Workspace(project).write_text("alias/x.py", "x = 1\n")
    assert (project / "real" / "x.py").read_text() == "x = 1\n"


def test_write_text_creates_folders_and_replaces_atomically(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    path = ws.write_text("pkg/sub/mod.py", "a = 1\n")
    assert path == tmp_path / "pkg" / "sub" / "mod.py"
    ws.write_text("pkg/sub/mod.py", "a = 2\n")
    assert path.read_text() == "a = 2\n"
    assert [p.name for p in path.parent.iterdir()] == ["mod.py"]  # no temp files left behind


def test_failed_atomic_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_state_round_trip_and_errors(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    with pytest.raises(PolyteamError, match="no saved run"):
        ws.load_state()
    ws.save_state({"version": 1, "done": {"WritePRD": {"project_name": "x"}}})
    assert ws.load_state()["done"]["WritePRD"]["project_name"] == "x"
    assert json.loads(ws.state_path.read_text())["version"] == 1
    ws.state_path.write_text("{broken")
    with pytest.raises(PolyteamError, match="unreadable"):
        ws.load_state()
    assert not any(name.endswith(".tmp") for name in os.listdir(ws.state_path.parent))


def _record_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch os.fsync to log the path of every fsynced descriptor (then really fsync it)."""
    real, seen = os.fsync, []

    def fsync(fd: int) -> None:
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr("os.fsync", fsync)
    return seen


async def test_async_writes_are_atomic_and_a_final_checkpoint_syncs_them_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _record_fsyncs(monkeypatch)
    ws = Workspace(tmp_path)
    path = await ws.awrite_text("pkg/mod.py", "a = 1\n")
    assert path.read_text() == "a = 1\n" and [p.name for p in path.parent.iterdir()] == ["mod.py"]
    assert seen == []  # no fsync of its own: the checkpoint is the durability point
    with pytest.raises(UnsafePathError):
        await ws.awrite_text("../escape.py", "x = 1\n")
    await ws.asave_state({"version": 1, "n": 1})
    assert seen == [] and ws.load_state()["n"] == 1  # an intermediate checkpoint: atomic, not fsynced
    seen.clear()
    await ws.asave_state({"version": 1, "n": 2}, final=True)
    file_at = seen.index(str(path))
    state_at = next(i for i, s in enumerate(seen) if "/.polyteam/.state.json." in s)
    assert file_at < state_at  # the final checkpoint is durable only after the files it refers to
    assert str(path.parent) in seen[:state_at]  # and after their folder (the rename)
    assert ws.load_state()["n"] == 2
    seen.clear()
    await ws.asave_state({"version": 1, "n": 3}, final=True)
    assert str(path) not in seen  # synced once, not at every checkpoint


async def test_checkpoints_never_go_back_and_piled_up_saves_are_coalesced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import polyteam.workspace as workspace

    real = workspace.atomic_write_bytes
    written: list[int] = []
    entered, release = threading.Event(), threading.Event()

    def slow_write(path: Path, data: bytes, *, durable: bool = True) -> None:
        written.append(json.loads(data)["n"])
        entered.set()
        assert release.wait(10)
        real(path, data, durable=durable)

    monkeypatch.setattr(workspace, "atomic_write_bytes", slow_write)
    ws = Workspace(tmp_path)
    first = asyncio.ensure_future(ws.asave_state({"version": 1, "n": 1}))
    assert await asyncio.to_thread(entered.wait, 10)  # snapshot 1 is being written
    later = [asyncio.ensure_future(ws.asave_state({"version": 1, "n": n})) for n in (2, 3, 4)]
    await asyncio.sleep(0)  # each save takes its snapshot before it waits for the writer
    release.set()
    await asyncio.gather(first, *later)
    assert written == [1, 4]  # 2 and 3 were superseded while 1 was written; nothing older follows 4
    assert ws.load_state()["n"] == 4
    ws.save_state({"version": 1, "n": 5})  # the blocking save (the interrupt path) takes the same turn
    assert written == [1, 4, 5] and ws.load_state()["n"] == 5


@pytest.mark.parametrize(
    ("name", "binary"),
    [("img/logo.PNG", True), ("a.tar.gz", True), ("model.gguf", True), ("main.py", False),
     ("data.json", False), ("icon.svg", False), ("Makefile", False)],
)  # fmt: skip
def test_binary_assets_are_told_by_their_suffix(name: str, binary: bool) -> None:
    assert is_binary_asset(name) is binary


@pytest.mark.parametrize(
    "name",
    ["docs/prd.md", "docs/PRD.json", "docs/requirement.txt", "docs/system_design.md", "docs/tasks.json",
     "docs/anything.json", "docs/code_review/main.py.md", "docs", "docs/code_review", "docs/prd.md/x.py"],
)  # fmt: skip
def test_paths_polyteam_writes_itself_are_reserved_for_model_files(name: str) -> None:
    assert is_reserved(check_relative_path(name))
    with pytest.raises(UnsafePathError, match="reserved"):
        check_model_path(name)


@pytest.mark.parametrize("name", ["docs/usage.md", "src/docs/prd.md", "README.md", "requirements.txt"])
def test_ordinary_docs_are_not_reserved(name: str) -> None:
    assert not is_reserved(check_model_path(name))


def test_a_file_that_is_another_files_folder_is_the_one_skipped() -> None:
    clashes = collisions(["collide", "collide/inner.py", "main.py", "Pkg", "pkg/a.py", "Main.py", "main.py"])
    assert set(clashes) == {"collide", "Pkg", "Main.py"}


async def test_a_file_in_the_way_of_a_folder_is_an_unsafe_path_not_a_crash(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    await ws.awrite_text("collide", "x = 1\n")
    with pytest.raises(UnsafePathError):
        await ws.awrite_text("collide/inner.py", "y = 1\n")
    (tmp_path / "pkg").mkdir()
    with pytest.raises(UnsafePathError):
        await ws.awrite_text("pkg", "z = 1\n")
    assert (tmp_path / "collide").read_text() == "x = 1\n"


async def test_a_guarded_write_keeps_a_changed_file_and_writes_beside_it(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    first = b"v = 1\n"
    out = await ws.awrite_guarded("m.py", first, frozenset({content_hash(first)}))
    assert (out.name, out.beside) == ("m.py", False)
    (tmp_path / "m.py").write_text("v = 'edited'\n")
    second = b"v = 2\n"
    out = await ws.awrite_guarded("m.py", second, frozenset({content_hash(first), content_hash(second)}))
    assert out.beside and out.name == "m.py" + BESIDE_SUFFIX
    assert (tmp_path / "m.py").read_text() == "v = 'edited'\n"
    assert (tmp_path / out.name).read_bytes() == second


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX named pipes")
async def test_a_named_pipe_where_a_file_goes_is_skipped_not_a_hang(tmp_path: Path) -> None:
    # the guarded write reads the file there first: a pipe would block that read forever
    ws = Workspace(tmp_path)
    os.mkfifo(tmp_path / "main.py")
    try:
        with pytest.raises(UnsafePathError, match="not a regular file"):
            await ws.awrite_guarded("main.py", b"x = 1\n", frozenset())
        with pytest.raises(UnsafePathError, match="not a regular file"):
            ws.resolve("main.py")
    finally:
        (tmp_path / "main.py").unlink()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
async def test_a_forked_child_writes_through_its_own_io_thread(tmp_path: Path) -> None:
    # the parent's polyteam-io thread does not survive fork(); a child that writes must not hang on it
    await Workspace(tmp_path / "parent").awrite_text("a.py", "a = 1\n")  # the parent's thread exists now
    pid = os.fork()
    if pid == 0:  # the child: one write, then out without running the parent's cleanup
        try:
            asyncio.run(Workspace(tmp_path / "child").awrite_text("b.py", "b = 1\n"))
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = await asyncio.to_thread(os.waitpid, pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (tmp_path / "child" / "b.py").read_text() == "b = 1\n"
