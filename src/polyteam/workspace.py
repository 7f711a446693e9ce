"""The project folder on disk: where it goes, what its name may be, which paths are safe, atomic writes.

Owns: sanitising project names, creating a project folder without overwriting an existing one
(suffix `-2`, `-3`… unless asked to replace a previous polyteam project), confining every path a
model names to the project (no absolute paths, drives, `..`, NUL bytes, reserved device names,
symlink escapes; raise `UnsafePathError` so the caller can report and skip), and writing files
atomically (temp file in the same folder, fsync, `os.replace`, fsync of the folder).

A running team uses the async writes, which never block the event loop (the work runs in a worker
thread, `asyncio.to_thread`): `awrite_text` writes a project file atomically (temp file +
`os.replace`, so a killed process leaves the old file or the new one) without an fsync of its own,
and `asave_state` checkpoints `.polyteam/state.json` the same way: atomic, and kept by the page cache
through a kill -9, but not fsynced, so the chain of calls never waits on the disk (issue 15). Only a
final checkpoint (the run's end, the interrupt path) is durable (fsync of the file and its folder).
Checkpoints are written one at a time, newest wins (a snapshot older than the one on disk is never
written), and saves that pile up while one is being written are coalesced into one write. A
checkpoint with `final=True` (the run's end) first fsyncs every project file written since the last
such checkpoint and their folders, so a final checkpoint is durable only after the artifacts it
refers to; an earlier checkpoint holds the outputs themselves, and a resume rewrites the files from
it.

Leaves to others: what goes into the files (roles), the run state's shape (`team/state.py`),
the ledger (`polyteam.cost`). Nothing written here is ever executed or imported (DESIGN §6).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Any

from polyteam.errors import PolyteamError, UnsafePathError

#: run state, ledger and anything else polyteam keeps about a run
STATE_DIR = ".polyteam"
STATE_FILE = "state.json"

#: Windows device names: unsafe as any path component, with or without an extension
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
_RESERVED |= {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
_RESERVED |= {f"COM{c}" for c in "¹²³"} | {f"LPT{c}" for c in "¹²³"}
#: top-level folders a model may not write into
_PROTECTED_TOP = {STATE_DIR, ".git"}
_MAX_COMPONENT = 120
_MAX_DEPTH = 12
_NAME_MAX = 60


def sanitize_project_name(name: str, fallback: str = "project") -> str:
    """A folder name made from free text: lowercase ASCII letters, digits, `_` and `-`.

    "Snake Game (CLI)!" -> "snake_game_cli". Reserved device names get a `_project` suffix;
    an empty result becomes `fallback`.
    """
    decomposed = unicodedata.normalize("NFKD", name or "")
    text = "".join(c for c in decomposed if not unicodedata.combining(c))  # é -> e
    text = re.sub(r"[^A-Za-z0-9_-]+", "_", text.strip()).strip("_-.").lower()
    text = re.sub(r"_+", "_", text)[:_NAME_MAX].strip("_-")
    if not text:
        text = fallback
    if text.upper() in _RESERVED:
        text = f"{text}_project"
    return text


def requirement_slug(requirement: str, words: int = 5) -> str:
    """A short folder name from the first words of a requirement (used until the PRD names the project)."""
    return sanitize_project_name(" ".join((requirement or "").split()[:words]))


def is_polyteam_project(path: Path) -> bool:
    """True when `path` is a folder a previous `polyteam run` created (it holds `.polyteam/`)."""
    return (path / STATE_DIR).is_dir()


def unique_dir(parent: Path, name: str, *, allow: Path | None = None) -> Path:
    """`parent/name`, or `name-2`, `name-3`… the first that does not exist (or is `allow`)."""
    candidate = parent / name
    n = 1
    while candidate.exists() or candidate.is_symlink():
        if allow is not None and candidate == allow:
            return candidate
        n += 1
        candidate = parent / f"{name}-{n}"
    return candidate


def create_project_dir(workdir: Path, name: str, *, overwrite: bool = False) -> Path:
    """Create and return the project folder `workdir/<sanitised name>`.

    An existing folder is never touched unless `overwrite` is set *and* it is a previous polyteam
    project (then it is removed first); otherwise the name gets a `-2`, `-3`… suffix.

    Raises:
        PolyteamError: the work folder cannot be created.
    """
    workdir = Path(workdir)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PolyteamError(
            f"cannot create the work folder {workdir}: {exc.strerror}; choose another --workdir"
        ) from exc
    safe = sanitize_project_name(name)
    target = workdir / safe
    if overwrite and target.is_dir() and not target.is_symlink() and is_polyteam_project(target):
        shutil.rmtree(target)
    target = unique_dir(workdir, safe)
    target.mkdir()
    return target


def move_project_dir(current: Path, workdir: Path, name: str, *, overwrite: bool = False) -> Path:
    """Rename the project folder `current` to `workdir/<sanitised name>` under the same rules.

    Used once the PRD names the project; returns the new path (or `current` when the name fits).
    """
    safe = sanitize_project_name(name)
    target = workdir / safe
    if target == current:
        return current
    if overwrite and target.is_dir() and not target.is_symlink() and is_polyteam_project(target):
        shutil.rmtree(target)
    target = unique_dir(workdir, safe, allow=current)
    if target != current:
        os.rename(current, target)
    return target


#: files a model cannot write as text (images, audio, archives, binaries): planned, never requested
BINARY_SUFFIXES = frozenset(
    [
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".bmp",
        ".ico",
        ".webp",
        ".tif",
        ".tiff",
        ".psd",
        ".mp3",
        ".wav",
        ".ogg",
        ".flac",
        ".mp4",
        ".avi",
        ".mov",
        ".mkv",
        ".zip",
        ".tar",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".7z",
        ".rar",
        ".pdf",
        ".exe",
        ".dll",
        ".so",
        ".dylib",
        ".bin",
        ".o",
        ".a",
        ".pyc",
        ".class",
        ".jar",
        ".db",
        ".sqlite",
        ".sqlite3",
        ".ttf",
        ".otf",
        ".woff",
        ".woff2",
        ".eot",
        ".npy",
        ".pkl",
        ".pickle",
        ".h5",
        ".onnx",
        ".gguf",
    ]
)


def is_binary_asset(name: str) -> bool:
    """Whether `name` is a binary asset (by its suffix): a model writes text, so it is not requested."""
    return PurePosixPath(name.replace("\\", "/")).suffix.lower() in BINARY_SUFFIXES


def check_relative_path(name: str) -> PurePosixPath:
    """Validate a file name a model produced and return it as a clean relative POSIX path.

    This is the lexical check (no file system access); `Workspace.resolve` adds the symlink check.

    Raises:
        UnsafePathError: empty, NUL byte, absolute, a drive, `..`, a reserved device name, a
            protected folder (`.polyteam`, `.git`), or too long/deep.
    """
    if not isinstance(name, str) or not name.strip():
        raise UnsafePathError("empty file name")
    shown = name.encode("unicode_escape").decode("ascii")[:80]
    if "\x00" in name or any(ord(c) < 32 for c in name):
        raise UnsafePathError(f"{shown!r}: control character or NUL byte in the file name")
    text = name.strip().replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or text.startswith("~"):
        raise UnsafePathError(f"{shown!r}: absolute path; file names must be relative to the project")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafePathError(f"{shown!r}: not a file name")
    if len(parts) > _MAX_DEPTH:
        raise UnsafePathError(f"{shown!r}: nested too deep")
    for part in parts:
        if part == "..":
            raise UnsafePathError(f"{shown!r}: '..' leaves the project folder")
        if ":" in part:
            raise UnsafePathError(f"{shown!r}: ':' is not allowed in a file name")
        if len(part) > _MAX_COMPONENT:
            raise UnsafePathError(f"{shown!r}: a path component is too long")
        stem = part.split(".")[0].rstrip(" ").upper()
        if stem in _RESERVED:
            raise UnsafePathError(f"{shown!r}: {stem} is a reserved device name")
        if part != part.rstrip(" ."):
            raise UnsafePathError(f"{shown!r}: a name may not end with a space or a dot")
    if parts[0] in _PROTECTED_TOP:
        raise UnsafePathError(f"{shown!r}: {parts[0]}/ is reserved for polyteam")
    return PurePosixPath(*parts)


def _fsync_dir(path: Path) -> None:
    # a rename is durable only once its folder is synced; not every platform can open a folder
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write `data` to `path` so that a reader (or a crash) sees the old file or the new one, never half.

    `durable=False` skips both fsyncs: still atomic for readers and for a killed process (the page
    cache survives it), not yet for a power loss (`fsync_paths` later makes it durable).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)


def fsync_paths(paths: list[Path]) -> None:
    """fsync each existing file of `paths`, then each of their folders once (a file gone is skipped)."""
    folders: dict[Path, None] = {}
    for path in paths:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            folders[path.parent] = None
    for folder in folders:
        _fsync_dir(folder)


class Workspace:
    """One project folder: safe paths inside it and atomic writes of text, JSON and the run state."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()  # guards the fields below (held only briefly, never during I/O)
        self._unsynced: dict[str, None] = {}  # project files written by awrite_text, not yet fsynced
        self._pending: tuple[int, bytes, bool] | None = None  # newest snapshot: number, data, final
        self._snapshots = itertools.count(1)
        self._write_lock = threading.Lock()  # one checkpoint write at a time
        self._written = 0  # the snapshot number on disk

    @property
    def state_path(self) -> Path:
        return self.root / STATE_DIR / STATE_FILE

    def resolve(self, name: str) -> Path:
        """The absolute path of project file `name`, checked to stay inside the project.

        Raises:
            UnsafePathError: see `check_relative_path`, or a symlink on the way leads outside.
        """
        rel = check_relative_path(name)
        root_real = Path(os.path.realpath(self.root))
        target = self.root.joinpath(*rel.parts)
        # every existing component, followed through symlinks, must stay under the project
        probe = self.root
        for part in rel.parts:
            probe = probe / part
            if not (probe.exists() or probe.is_symlink()):
                break
            real = Path(os.path.realpath(probe))
            if real != root_real and root_real not in real.parents:
                raise UnsafePathError(f"{name!r}: a symlink leads outside the project folder")
        if target.is_symlink():
            raise UnsafePathError(f"{name!r}: is a symlink; polyteam does not write through links")
        if target.is_dir():
            raise UnsafePathError(f"{name!r}: is a folder")
        return target

    def write_text(self, name: str, text: str) -> Path:
        """Write a project file atomically (model-named paths go through `resolve`).

        Raises:
            UnsafePathError: the name would leave the project.
        """
        path = self.resolve(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        # the folders just made must still be inside the project (a racing symlink would show here)
        self.resolve(name)
        atomic_write_bytes(path, text.encode("utf-8"))
        return path

    def write_json(self, name: str, value: Any) -> Path:
        return self.write_text(name, json.dumps(value, indent=2, ensure_ascii=False) + "\n")

    async def awrite_text(self, name: str, text: str) -> Path:
        """`write_text` in a worker thread, atomic but without an fsync of its own (module docstring).

        Raises:
            UnsafePathError: the name would leave the project.
        """
        return await asyncio.to_thread(self._write_unsynced, name, text.encode("utf-8"))

    def _write_unsynced(self, name: str, data: bytes) -> Path:
        path = self.resolve(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.resolve(name)  # the folders just made must still be inside the project
        atomic_write_bytes(path, data, durable=False)
        with self._lock:
            self._unsynced[name] = None
        return path

    def save_state(self, state: dict[str, Any], *, final: bool = True) -> None:
        """Checkpoint the run state atomically to `.polyteam/state.json` (blocking), durably if `final`.

        `final`: first make the project files written by `awrite_text` durable (module docstring).
        """
        self._snapshot(state, final)
        self._commit()

    async def asave_state(self, state: dict[str, Any], *, final: bool = False) -> None:
        """`save_state` with the write in a worker thread; `state` is serialised here, on the caller's thread."""
        self._snapshot(state, final)
        await asyncio.to_thread(self._commit)

    def _snapshot(self, state: dict[str, Any], final: bool) -> None:
        # compact: json's C encoder is used only without indent (3x faster, on every checkpoint)
        data = (json.dumps(state, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            previous = self._pending
            # a final snapshot not yet on disk stays final when a newer one replaces it
            final = final or (previous is not None and previous[2] and previous[0] > self._written)
            self._pending = (next(self._snapshots), data, final)

    def _commit(self) -> None:
        """Write the newest snapshot unless it is already on disk (then there is nothing to do)."""
        with self._write_lock:
            with self._lock:
                pending = self._pending
                if pending is None or pending[0] <= self._written:
                    return
                number, data, final = pending
                unsynced = list(self._unsynced) if final else []
                if final:
                    self._unsynced.clear()
            try:
                if unsynced:
                    fsync_paths([self.root / name for name in unsynced])
                path = self.state_path
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(path, data, durable=final)  # intermediate ones: atomic, no fsync
            except BaseException:
                with self._lock:  # not durable yet: the next final checkpoint tries them again
                    self._unsynced.update(dict.fromkeys(unsynced))
                raise
            with self._lock:
                self._written = number

    def load_state(self) -> dict[str, Any]:
        """The saved run state.

        Raises:
            PolyteamError: no state, or it cannot be read (one line naming the file and the fix).
        """
        path = self.state_path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise PolyteamError(
                f"{path}: no saved run here; pass a project folder written by `polyteam run`"
            ) from exc
        except (OSError, ValueError) as exc:
            raise PolyteamError(
                f"{path}: unreadable run state ({type(exc).__name__}); start a new run"
            ) from exc
        if not isinstance(data, dict) or data.get("version") != 1:
            raise PolyteamError(f"{path}: unknown run state version; start a new run")
        return data
