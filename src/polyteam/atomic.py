"""Atomic file writes: the one helper every writer of polyteam's files uses (project files, the run
state, the pricing snapshot, HTML reports).

A reader, or a process killed mid-write, sees the old file or the new one, never half of it: the
bytes go to a temp file in the same folder, then `os.replace` puts it in place. `durable=True`
(the default) also fsyncs the file and its folder, so the rename survives a power loss.
Leaves to others: which paths are safe to write (`polyteam.safepath`), where they live
(`polyteam.workspace`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """fsync a folder (a rename in it is durable only then); a platform that cannot is skipped."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True, make_parents: bool = True) -> None:
    """Write `data` to `path` so that a reader (or a crash) sees the old file or the new one, never half.

    `durable=False` skips both fsyncs: still atomic for readers and for a killed process (the page
    cache survives it), not yet for a power loss (`fsync_paths` later makes it durable).
    `make_parents=False`: a missing folder is an error (FileNotFoundError), not created.

    Raises:
        OSError: the folder is missing or unwritable, the path is a folder, the disk is full.
    """
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:  # the descriptor itself, not a file object (which asks fstat and isatty: issue 15)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, durable: bool = True, make_parents: bool = True) -> None:
    """`atomic_write_bytes` of `text` as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable, make_parents=make_parents)


def fsync_paths(paths: list[Path]) -> None:
    """fsync each existing file of `paths`, then each of their folders once (a file gone is skipped)."""
    folders: dict[Path, None] = {}
    for path in paths:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, NotADirectoryError):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            folders[path.parent] = None
    for folder in folders:
        fsync_dir(folder)
