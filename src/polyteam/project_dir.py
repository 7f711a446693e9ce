"""A project folder's one name and its creation: named once from the requirement, never moved.

Owns naming a project folder from free text (`sanitize_project_name`, `requirement_slug`) and
creating it race-free without touching an existing folder (`mkdir` with `exist_ok=False`, then
`-2`, `-3`… until one is free; `--overwrite` replaces only a previous polyteam run of the same
requirement, moved aside atomically first). Leaves to others: what is written inside it
(`polyteam.workspace`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
import uuid
from pathlib import Path

from polyteam.errors import PolyteamError
from polyteam.safepath import RESERVED_DEVICES, STATE_DIR, STATE_FILE

_NAME_MAX = 60
_MAX_SUFFIX = 10_000


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
    if text.upper() in RESERVED_DEVICES:
        text = f"{text}_project"
    return text


def requirement_slug(requirement: str, words: int = 5) -> str:
    """The project folder's name: the first words of the requirement, sanitised."""
    return sanitize_project_name(" ".join((requirement or "").split()[:words]))


def is_polyteam_project(path: Path) -> bool:
    """True when `path` is a folder a previous `polyteam run` created (it holds `.polyteam/`)."""
    return (path / STATE_DIR).is_dir()


def _saved_requirement(project: Path) -> str | None:
    try:
        data = json.loads((project / STATE_DIR / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("requirement") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _replaceable(target: Path, requirement: str | None) -> bool:
    """`--overwrite` may replace `target` only if it is a polyteam project of this requirement."""
    if target.is_symlink() or not target.is_dir() or not is_polyteam_project(target):
        return False
    return requirement is None or (_saved_requirement(target) or "").strip() == requirement.strip()


def _discard(target: Path) -> None:
    """Move `target` aside under a unique name (atomic: a racing run sees it gone), then delete it."""
    aside = target.with_name(f".{target.name}.replaced-{uuid.uuid4().hex[:12]}")
    try:
        os.rename(target, aside)
    except FileNotFoundError:  # another run replaced it first
        return
    shutil.rmtree(aside, ignore_errors=True)


def create_project_dir(
    workdir: Path, name: str, *, overwrite: bool = False, requirement: str | None = None
) -> Path:
    """Create and return the project folder `workdir/<sanitised name>` (or `-2`, `-3`…).

    An existing folder is never touched unless `overwrite` is set *and* it is a previous polyteam
    project of the same `requirement` (then it is moved aside and removed); otherwise the name gets
    the first free suffix. Race-free: each candidate is created with `exist_ok=False`.

    Raises:
        PolyteamError: the work folder or the project folder cannot be created.
    """
    workdir = Path(workdir)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PolyteamError(
            f"cannot create the work folder {workdir}: {exc.strerror}; choose another --workdir"
        ) from exc
    safe = sanitize_project_name(name)
    if overwrite and _replaceable(workdir / safe, requirement):
        _discard(workdir / safe)
    for n in range(1, _MAX_SUFFIX):
        candidate = workdir / (safe if n == 1 else f"{safe}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise PolyteamError(
                f"cannot create the project folder {candidate}: {exc.strerror}; choose another --workdir"
            ) from exc
        return candidate
    raise PolyteamError(f"{workdir}: {_MAX_SUFFIX} folders named {safe!r} exist; choose another --workdir")
