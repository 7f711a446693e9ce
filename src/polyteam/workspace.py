"""The writes inside a project folder (its name and creation: `polyteam.project_dir`, re-exported).

Owns: resolving a checked name to a path that stays inside the project (no symlink escapes; a file
where a folder must go is an `UnsafePathError`, reported and skipped by the caller), writing project files without clobbering what a user changed
(`awrite_guarded`), and checkpointing `.polyteam/state.json`.

A running team uses the async writes, which never block the event loop (the work runs in the
process's I/O thread): `awrite_guarded` / `awrite_text` write a project file atomically (temp
file + `os.replace`, so a killed process leaves the old file or the new one) without an fsync of its
own. Checkpoints are snapshots serialised on the loop (`save_state_soon`, `asave_state`) and written
the same way: atomic, kept by the page cache through a kill -9, but not fsynced, so the chain of calls
never waits on the disk (issue 15). Every I/O job first writes the newest snapshot not yet on disk, so
a file's hash, remembered in the state before the file is written, is on disk first, and snapshots
taken between two writes cost one write; `aflush` waits for all of them. Only a final checkpoint
(the run's end, the interrupt path) is durable (fsync of the file and its folder). Checkpoints are
written one at a time, newest wins (a snapshot older than the one on disk is never written). A
checkpoint with `final=True` (the run's end) first fsyncs every project file written since the last
such checkpoint and their folders, so a final checkpoint is durable only after the artifacts it
refers to.

Leaves to others: which names are safe (`polyteam.safepath`), the atomic write itself
(`polyteam.atomic`), what goes into the files (roles), the run state's shape and its validation
(`team/state.py`), the ledger (`polyteam.cost`). Nothing written here is ever executed.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import stat
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from polyteam.atomic import atomic_write_bytes, fsync_paths
from polyteam.errors import PolyteamError, UnsafePathError
from polyteam.project_dir import (
    create_project_dir,
    is_polyteam_project,
    requirement_slug,
    sanitize_project_name,
)
from polyteam.safepath import (
    STATE_DIR,
    STATE_FILE,
    check_relative_path,
    is_binary_asset,
    shown_name,
)

__all__ = [
    "STATE_DIR",
    "STATE_FILE",
    "Workspace",
    "WriteOutcome",
    "atomic_write_bytes",
    "check_relative_path",
    "compact_json",
    "content_hash",
    "create_project_dir",
    "is_binary_asset",
    "is_polyteam_project",
    "requirement_slug",
    "sanitize_project_name",
]

#: the name polyteam writes its version under when a user changed the file (`main.py` ->
#: `main.py.polyteam-new`)
BESIDE_SUFFIX = ".polyteam-new"


def content_hash(data: bytes) -> str:
    """The hash the run state keeps of a file polyteam wrote (to tell a user's edit on resume)."""
    return hashlib.sha256(data).hexdigest()


_T = TypeVar("_T")
_IO_THREADS = 1
_io_pool: ThreadPoolExecutor | None = None
_io_pool_lock = threading.Lock()


def _forget_io_pool() -> None:
    """In a forked child the parent's I/O thread does not exist: the child starts its own."""
    global _io_pool
    _io_pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_io_pool)


def _io_executor() -> ThreadPoolExecutor:
    """The process's thread for project files and intermediate checkpoints: one, not the loop's
    default pool (up to six on two cores), whose threads fought the event loop for the GIL when many
    runs write at once (issue 15, scale.py M = 20: 335k futex calls with the pool, 92k with two
    threads, 44k with one). A final checkpoint's fsyncs run in the default pool instead, so that one
    run's slow disk flush never holds up the others' writes."""
    global _io_pool
    with _io_pool_lock:
        if _io_pool is None:
            _io_pool = ThreadPoolExecutor(max_workers=_IO_THREADS, thread_name_prefix="polyteam-io")
        return _io_pool


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, read through its descriptor (`Path.read_bytes` also asks fstat and isatty)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def compact_json(value: Any) -> str:
    """`value` as compact JSON (json's C encoder serves only the form without indent: 3x faster)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class WriteOutcome:
    """What `awrite_guarded` did: the name written, and whether that is beside a user's edit."""

    name: str
    beside: bool = False
    data_hash: str = ""


class Workspace:
    """One project folder: safe paths inside it, atomic writes of its files and of the run state."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()  # guards the fields below (held only briefly, never during I/O)
        self._unsynced: dict[str, None] = {}  # project files written by awrite_text, not yet fsynced
        self._pending: tuple[int, bytes, bool] | None = None  # newest snapshot: number, data, final
        self._snapshots = itertools.count(1)
        self._write_lock = threading.Lock()  # one checkpoint write at a time
        self._written = 0  # the snapshot number on disk
        self._real_root: str | None = None
        self._commit_queued = False  # a job that commits first is queued and has not taken a snapshot yet
        self._taken = 0  # the newest snapshot number a commit has taken to write
        self._source: Callable[[], dict[str, Any] | bytes] | None = None  # a state to serialise before the next write
        self._jobs: set[asyncio.Future[Any]] = set()  # I/O jobs on their way (each commits first)
        self._failure: BaseException | None = None  # of a background commit nobody awaits

    @property
    def state_path(self) -> Path:
        return self.root / STATE_DIR / STATE_FILE

    def resolve(self, name: str) -> Path:
        """The absolute path of project file `name`, checked to stay inside the project.

        Raises:
            UnsafePathError: see `check_relative_path`, a symlink on the way leads outside, the
                name is a folder, or a file stands where one of its folders must go.
        """
        return self._walk(name)[0]

    def _walk(self, name: str) -> tuple[Path, bool]:
        """`resolve`, and whether the file's folders all exist already.

        One `lstat` per existing component; only a symlink is followed (`realpath`) to see where it
        leads (issue 15: every project file write resolved its path three times through `realpath`).
        """
        rel = check_relative_path(name)
        root_real = self._root_real()
        parts = rel.parts
        probe = str(self.root)
        for i, part in enumerate(parts):
            probe = os.path.join(probe, part)
            last = i == len(parts) - 1
            try:
                mode = os.lstat(probe).st_mode
            except FileNotFoundError:  # the folders above exist when this is the file (the root: asked)
                return self.root.joinpath(*parts), last and (i > 0 or os.path.isdir(self.root))
            except NotADirectoryError:  # a racing file where a folder was
                raise UnsafePathError(f"{shown_name(name)}: a file stands where its folder must go") from None
            if stat.S_ISLNK(mode):
                real = os.path.realpath(probe)
                if real != root_real and not real.startswith(root_real.rstrip(os.sep) + os.sep):
                    raise UnsafePathError(f"{shown_name(name)}: a symlink leads outside the project folder")
                if last:
                    raise UnsafePathError(
                        f"{shown_name(name)}: is a symlink; polyteam does not write through links"
                    )
                is_dir = os.path.isdir(probe)
            else:
                is_dir = stat.S_ISDIR(mode)
            if not last and not is_dir:
                raise UnsafePathError(f"{shown_name(name)}: {part!r} is a file, not a folder; not written")
            if last and is_dir:
                raise UnsafePathError(f"{shown_name(name)}: is a folder; not written")
            if last and not stat.S_ISREG(mode):  # a pipe or a device would block or be written through
                raise UnsafePathError(f"{shown_name(name)}: is not a regular file; not written")
        return self.root.joinpath(*parts), True

    def _root_real(self) -> str:
        if self._real_root is None:  # a project folder keeps its one path for the whole run
            self._real_root = os.path.realpath(self.root)
        return self._real_root

    def _place(self, name: str, walked: tuple[Path, bool] | None = None) -> Path:
        """`resolve`, with the file's folders made (and checked again: a racing symlink shows here)."""
        path, folders_exist = walked or self._walk(name)
        if folders_exist:
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise UnsafePathError(f"{shown_name(name)}: a file stands where its folder must go") from exc
        return self.resolve(name)

    def _put(self, name: str, data: bytes, *, durable: bool, walked: tuple[Path, bool] | None = None) -> Path:
        """Write project file `name` atomically; `walked`: `_walk(name)` just done by the caller."""
        path = self._place(name, walked)
        try:
            atomic_write_bytes(path, data, durable=durable, make_parents=False)
        except (IsADirectoryError, NotADirectoryError, FileExistsError) as exc:  # a racing folder
            raise UnsafePathError(f"{shown_name(name)}: collides with a folder; not written") from exc
        except FileNotFoundError as exc:  # its folder was removed while it was being written
            raise UnsafePathError(f"{shown_name(name)}: its folder is gone; not written") from exc
        if not durable:
            with self._lock:
                self._unsynced[name] = None
        return path

    def write_text(self, name: str, text: str) -> Path:
        """Write a project file atomically and durably, blocking (model-named paths go through `resolve`).

        Raises:
            UnsafePathError: the name would leave the project or collides with a folder.
        """
        return self._put(name, text.encode("utf-8"), durable=True)

    async def awrite_text(self, name: str, text: str) -> Path:
        """`write_text` in a worker thread, atomic but without an fsync of its own (module docstring).

        Raises:
            UnsafePathError: the name would leave the project or collides with a folder.
        """
        return await self._in_io(self._put, name, text.encode("utf-8"), durable=False)

    async def awrite_guarded(self, name: str, data: bytes, ours: frozenset[str]) -> WriteOutcome:
        """Write `data` as `name` unless the file there now is not one polyteam wrote (its hash is
        not in `ours`): then the user changed it, and `data` goes beside it (`name.polyteam-new`).

        Raises:
            UnsafePathError: the name would leave the project or collides with a folder.
        """
        return await self._in_io(self._write_guarded, name, data, ours)

    async def _in_io(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """`fn` in an I/O thread, after the newest checkpoint snapshot is on disk (so a file's hash,
        remembered in the state before the file is written, reaches the disk first)."""

        def job() -> _T:
            self._commit()
            return fn(*args, **kwargs)

        return await self._submit(job)

    def _submit(self, job: Callable[[], _T], *, final: bool = False) -> asyncio.Future[_T]:
        """Run `job` (which commits first) in the I/O thread, or a `final` one (fsyncs) in the loop's
        default pool; `aflush` waits for it."""
        self._take_source()
        with self._lock:
            self._commit_queued = True
        future = asyncio.get_running_loop().run_in_executor(None if final else _io_executor(), job)
        self._jobs.add(future)
        future.add_done_callback(self._jobs.discard)
        return future

    def _write_guarded(self, name: str, data: bytes, ours: frozenset[str]) -> WriteOutcome:
        walked = self._walk(name)
        path = walked[0]
        digest = content_hash(data)
        try:
            current = _read_bytes(path)
        except FileNotFoundError:
            current = None
        except OSError as exc:
            raise UnsafePathError(
                f"{shown_name(name)}: cannot be read ({exc.strerror}); not written"
            ) from exc
        if current == data:
            return WriteOutcome(name, False, digest)
        if current is not None and content_hash(current) not in ours:
            beside = name + BESIDE_SUFFIX
            self._put(beside, data, durable=False)
            return WriteOutcome(beside, True, digest)
        self._put(name, data, durable=False, walked=walked)
        return WriteOutcome(name, False, digest)

    def save_state(self, state: dict[str, Any] | bytes, *, final: bool = True) -> None:
        """Checkpoint the run state atomically to `.polyteam/state.json` (blocking), durably if `final`.

        `final`: first make the project files written by `awrite_text` durable (module docstring).
        """
        self._source = None  # superseded by this one
        self._snapshot(state, final)
        self._commit()

    async def asave_state(self, state: dict[str, Any] | bytes, *, final: bool = False) -> None:
        """`save_state` with the write in a worker thread; `state` is serialised here, on the caller's thread."""
        self._source = None  # superseded by this one
        self._snapshot(state, final)
        await self._submit(self._commit, final=final)
        await self.aflush()

    def save_state_soon(self, state: Callable[[], dict[str, Any] | bytes]) -> None:
        """Have the run state written soon, without waiting: `state()` is serialised (on this, the
        loop's thread) once, just before the next I/O job or background write takes it.

        Saves between two writes cost one serialisation and one write (issue 15): the snapshot
        rides with the next project file write, or goes in one background write. `aflush` waits
        for it.
        """
        self._source = state
        asyncio.get_running_loop().call_soon(self._commit_soon)

    def _take_source(self) -> None:
        """Serialise the state a `save_state_soon` left to be written (on the loop's thread)."""
        source, self._source = self._source, None
        if source is not None:
            self._snapshot(source(), False)

    def _commit_soon(self) -> None:
        self._take_source()
        with self._lock:
            pending = self._pending
            if self._commit_queued or pending is None or pending[0] <= self._taken:
                return  # a queued job writes the newest snapshot first, or it is on its way already
        self._submit(self._commit).add_done_callback(self._note_failure)

    def _note_failure(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None and self._failure is None:
            self._failure = future.exception()

    async def aflush(self) -> None:
        """Wait until every snapshot taken so far is on disk (at once when nothing is on its way).

        Raises:
            OSError: a background write of the state failed (it stays pending: the next save tries again).
        """
        self._commit_soon()  # a snapshot whose deferred commit has not been scheduled yet
        if self._jobs:
            await asyncio.wait(list(self._jobs))
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _snapshot(self, state: dict[str, Any] | bytes, final: bool) -> None:
        """Make `state` the newest snapshot: a JSON object, or its serialised form (one line)."""
        data = state if isinstance(state, bytes) else (compact_json(state) + "\n").encode("utf-8")
        with self._lock:
            previous = self._pending
            # a final snapshot not yet on disk stays final when a newer one replaces it
            final = final or (previous is not None and previous[2] and previous[0] > self._written)
            self._pending = (next(self._snapshots), data, final)

    def _commit(self) -> None:
        """Write the newest snapshot unless it is already on disk (then there is nothing to do)."""
        with self._write_lock:
            with self._lock:
                self._commit_queued = False  # from here on a newer snapshot needs a job of its own
                pending = self._pending
                if pending is not None:
                    self._taken = max(self._taken, pending[0])
                if pending is None or pending[0] <= self._written:
                    return
                number, data, final = pending
                unsynced = list(self._unsynced) if final else []
                if final:
                    self._unsynced.clear()
            try:
                if unsynced:
                    fsync_paths([self.root / name for name in unsynced])
                atomic_write_bytes(self.state_path, data, durable=final)  # intermediate ones: no fsync
            except BaseException:
                with self._lock:  # not durable yet: the next final checkpoint tries them again
                    self._unsynced.update(dict.fromkeys(unsynced))
                raise
            with self._lock:
                self._written = number

    def load_state(self) -> dict[str, Any]:
        """The saved run state as a JSON object (its shape and version: `RunState.load`).

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
        except (OSError, ValueError, RecursionError) as exc:
            raise PolyteamError(
                f"{path}: unreadable run state ({type(exc).__name__}); start a new run"
            ) from exc
        if not isinstance(data, dict):
            raise PolyteamError(f"{path}: not a run state (a JSON object); start a new run")
        return data
