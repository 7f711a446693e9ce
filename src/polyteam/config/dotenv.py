"""A `.env` file in the configuration folder: KEY=VALUE lines for keys (never overriding the environment).

Only the common subset of the format: `KEY=VALUE`, an optional `export ` prefix, `#` comments, and
values in single or double quotes. A line that is none of these is one issue naming its number, never
its text (it may hold a key).
"""

from __future__ import annotations

import re
from pathlib import Path

from polyteam.errors import ConfigIssue

DOTENV_FILE = ".env"
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_MAX_BYTES = 1024 * 1024


def read_dotenv(path: Path) -> tuple[dict[str, str], list[ConfigIssue]]:
    """The variables of `path` (empty when it does not exist) and one issue per bad line."""
    try:
        if not path.is_file():
            return {}, []
        if path.stat().st_size > _MAX_BYTES:
            return {}, [
                ConfigIssue(str(path), "", "is too large to be a .env file", "keep only KEY=VALUE lines")
            ]
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return {}, [ConfigIssue(str(path), "", "cannot be read as UTF-8 text", "save it as UTF-8")]
    values: dict[str, str] = {}
    issues: list[ConfigIssue] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            issues.append(ConfigIssue(str(path), f"line {number}", "is not KEY=VALUE", "write NAME=value"))
            continue
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in ("'", '"'):
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[name] = value
    return values, issues
