"""Which paths inside a project a model may name, and which polyteam reserves for itself.

Owns the lexical check of a model's file name (`check_relative_path`: relative POSIX paths only;
no absolute paths, drives, `..`, control or Unicode format characters, reserved device names,
over-long or over-deep names), the paths polyteam writes itself and a model may not
(`STATE_DIR`, the docs it generates: `is_reserved`), file/folder collisions inside one plan
(`collisions`), and which names are binary assets. Pure functions, no file system access:
`polyteam.workspace` adds the symlink and existing-file checks at write time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import PurePosixPath

from polyteam.errors import UnsafePathError

#: run state, ledger and anything else polyteam keeps about a run, inside the project folder
STATE_DIR = ".polyteam"
STATE_FILE = "state.json"

#: Windows device names: unsafe as any path component, with or without an extension
RESERVED_DEVICES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
RESERVED_DEVICES |= {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
RESERVED_DEVICES |= {f"COM{c}" for c in "¹²³"} | {f"LPT{c}" for c in "¹²³"}

#: folders only polyteam writes into (compared case-insensitively: macOS and Windows fold case)
RESERVED_DIRS = (STATE_DIR, ".git", "docs/code_review")
#: files only polyteam writes; besides these, any `docs/*.json` is reserved
RESERVED_FILES = (
    "docs/requirement.txt",
    "docs/prd.md",
    "docs/system_design.md",
    "docs/tasks.md",
)
_MAX_COMPONENT = 120
_MAX_DEPTH = 12
#: Unicode categories never allowed in a file name: controls, format (bidi, zero-width),
#: surrogates, private use, unassigned, line and paragraph separators
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def shown_name(name: str) -> str:
    """A file name as it may be printed: ASCII, every non-printable character escaped, cut at 80."""
    return "'" + name.encode("unicode_escape").decode("ascii")[:80].replace("'", "\\'") + "'"


def has_unsafe_character(text: str) -> bool:
    """Whether `text` holds a control, format (bidi override, zero-width), or unassigned character."""
    return any(unicodedata.category(c) in _UNSAFE_CATEGORIES for c in text)


def check_relative_path(name: str) -> PurePosixPath:
    """Validate a file name a model produced and return it as a clean relative POSIX path.

    This is the lexical check (no file system access); `Workspace.resolve` adds the symlink check.

    Raises:
        UnsafePathError: empty, a control or format character, absolute, a drive, `..`, a reserved
            device name, a protected folder (`.polyteam`, `.git`), or too long/deep.
    """
    if not isinstance(name, str) or not name.strip():
        raise UnsafePathError("empty file name")
    shown = shown_name(name)
    if has_unsafe_character(name):
        raise UnsafePathError(f"{shown}: control or invisible (format) character in the file name")
    text = name.strip().replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text) or text.startswith("~"):
        raise UnsafePathError(f"{shown}: absolute path; file names must be relative to the project")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafePathError(f"{shown}: not a file name")
    if len(parts) > _MAX_DEPTH:
        raise UnsafePathError(f"{shown}: nested too deep")
    for part in parts:
        _check_component(shown, part)
    if parts[0].casefold() in (STATE_DIR, ".git"):
        raise UnsafePathError(f"{shown}: {parts[0]}/ is reserved for polyteam")
    return PurePosixPath(*parts)


def _check_component(shown: str, part: str) -> None:
    if part == "..":
        raise UnsafePathError(f"{shown}: '..' leaves the project folder")
    if ":" in part:
        raise UnsafePathError(f"{shown}: ':' is not allowed in a file name")
    if len(part) > _MAX_COMPONENT:
        raise UnsafePathError(f"{shown}: a path component is too long")
    stem = part.split(".")[0].rstrip(" ").upper()
    if stem in RESERVED_DEVICES:
        raise UnsafePathError(f"{shown}: {stem} is a reserved device name")
    if part != part.rstrip(" ."):
        raise UnsafePathError(f"{shown}: a name may not end with a space or a dot")


def _is_within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def is_reserved(name: str | PurePosixPath) -> bool:
    """Whether a (checked) relative name collides with a path polyteam writes itself: one of its
    files or folders, a folder on the way to one (`docs` as a file), or a file used as a folder."""
    path = str(name).casefold()
    own_files = [f.casefold() for f in RESERVED_FILES]
    if any(_is_within(path, f) for f in own_files) or any(_is_within(path, d) for d in RESERVED_DIRS):
        return True
    if re.fullmatch(r"docs/[^/]*\.json(/.*)?", path):
        return True
    ancestors = {
        str(p).casefold() for f in [*RESERVED_FILES, *RESERVED_DIRS] for p in PurePosixPath(f).parents
    }
    return path in ancestors


def check_model_path(name: str) -> PurePosixPath:
    """`check_relative_path`, and not a path polyteam reserves for its own files.

    Raises:
        UnsafePathError: see `check_relative_path`; or the name collides with polyteam's own files.
    """
    rel = check_relative_path(name)
    if is_reserved(rel):
        raise UnsafePathError(f"{shown_name(name)}: reserved for polyteam's own files; not written")
    return rel


def collisions(names: Sequence[str]) -> dict[str, str]:
    """Names of one plan that cannot all exist, mapped to the reason the one skipped is skipped: a
    file that is also a folder of another name (`collide` beside `collide/inner.py`: the plain file),
    and a name that differs from an earlier one only in case (a case-folding file system has one)."""
    folded = sorted({n.casefold().strip("/") for n in names})
    first: dict[str, str] = {}
    out: dict[str, str] = {}
    for name in names:
        key = name.casefold().strip("/")
        if any(o.startswith(key + "/") for o in folded):
            out[name] = f"{shown_name(name)}: also a folder of another file in the plan; not written"
        elif first.setdefault(key, name) != name:
            out[name] = f"{shown_name(name)}: differs from {shown_name(first[key])} only in case; not written"
    return out


#: files a model cannot write as text (images, audio, archives, binaries): planned, never requested
_BINARY = """
    .png .jpg .jpeg .gif .bmp .ico .webp .tif .tiff .psd .mp3 .wav .ogg .flac .mp4 .avi .mov .mkv
    .zip .tar .gz .tgz .bz2 .xz .7z .rar .pdf .exe .dll .so .dylib .bin .o .a .pyc .class .jar .db
    .sqlite .sqlite3 .ttf .otf .woff .woff2 .eot .npy .pkl .pickle .h5 .onnx .gguf
"""
BINARY_SUFFIXES = frozenset(_BINARY.split())


def is_binary_asset(name: str) -> bool:
    """Whether `name` is a binary asset (by its suffix): a model writes text, so it is not requested."""
    return PurePosixPath(name.replace("\\", "/")).suffix.lower() in BINARY_SUFFIXES
