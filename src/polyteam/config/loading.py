"""Finding the configuration folder and reading its two YAML files into plain data.

Owns the lookup order (`--config-dir`, else ./config/, else ~/.polyteam/), YAML parsing with
line:column errors and duplicate-key detection. It judges nothing else: `validate.py` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from polyteam.config.schema import CONFIG_FILE, MULTI_FILE
from polyteam.errors import ConfigIssue


@dataclass(frozen=True)
class ConfigFiles:
    """The two files as parsed YAML (None when absent, empty or unreadable), and reading problems."""

    config_dir: Path | None
    config: Any = None
    multi: Any = None
    config_label: str = CONFIG_FILE
    multi_label: str = MULTI_FILE
    #: problems found while reading (missing folder, YAML that does not parse, duplicate keys)
    issues: list[ConfigIssue] = field(default_factory=list)
    config_ok: bool = True  # False when config.yaml exists but could not be read
    multi_ok: bool = True


def find_config_dir(
    config_dir: Path | None = None, *, cwd: Path | None = None, home: Path | None = None
) -> Path | None:
    """The folder to read: `config_dir` if given, else ./config/, else ~/.polyteam/, else None."""
    if config_dir is not None:
        return config_dir
    local = (cwd or Path.cwd()) / "config"
    if local.is_dir():
        return local
    user = (home or Path.home()) / ".polyteam"
    if user.is_dir():
        return user
    return None


class _Loader(yaml.SafeLoader):
    """A safe loader that records keys appearing twice in one mapping (PyYAML keeps the last silently)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _value in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    self.duplicates.append((key_node.value, key_node.start_mark.line + 1))
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, label: str) -> tuple[Any, list[ConfigIssue], bool]:
    """Parse one YAML document: (data, issues, ok). Messages carry line:column, never the text itself."""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader rejects special characters already here
        data = loader.get_single_data()
    except yaml.reader.ReaderError as exc:
        problem = (
            f"YAML does not allow the special character #x{exc.character:04x} (at character {exc.position})"
        )
        return None, [ConfigIssue(label, "", problem, "remove it or quote the value")], False
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        problem = exc.problem or exc.context or "invalid YAML"
        tabs = "\\t" in problem or "\t" in problem
        fix = (
            "YAML indents with spaces, not tabs"
            if tabs
            else "check the indentation, colons and quotes on that line"
        )
        return None, [ConfigIssue(label, "", f"YAML does not parse at {where}: {problem}", fix)], False
    except yaml.YAMLError as exc:  # any other error without a mark
        return None, [ConfigIssue(label, "", f"YAML does not parse ({type(exc).__name__})", "")], False
    finally:
        if loader is not None:
            loader.dispose()
    issues = [
        ConfigIssue(label, key, f"appears twice (line {line}); the last one would win", "keep one")
        for key, line in loader.duplicates
    ]
    return data, issues, True


def _read(path: Path, label: str) -> tuple[Any, list[ConfigIssue], bool]:
    if not path.exists():
        return None, [], True
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return (
            None,
            [ConfigIssue(label, "", f"cannot be read ({exc.strerror or type(exc).__name__})", "")],
            False,
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, [ConfigIssue(label, "", "is not UTF-8 text", "save it as UTF-8")], False
    return parse_yaml(text, label)


def read_config_files(
    config_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> ConfigFiles:
    """Find the folder and read both files; never raises on bad content (problems become issues)."""
    home = Path(environ["HOME"]) if environ and environ.get("HOME") else None
    folder = find_config_dir(config_dir, home=home)
    if folder is None:
        return ConfigFiles(config_dir=None)
    if config_dir is not None and not folder.is_dir():
        issue = ConfigIssue(
            str(folder), "--config-dir", "is not a folder", "pass the folder holding config.yaml"
        )
        return ConfigFiles(config_dir=folder, issues=[issue])
    config_label = str(folder / CONFIG_FILE)
    multi_label = str(folder / MULTI_FILE)
    config, config_issues, config_ok = _read(folder / CONFIG_FILE, config_label)
    multi, multi_issues, multi_ok = _read(folder / MULTI_FILE, multi_label)
    return ConfigFiles(
        config_dir=folder,
        config=config,
        multi=multi,
        config_label=config_label,
        multi_label=multi_label,
        issues=[*config_issues, *multi_issues],
        config_ok=config_ok,
        multi_ok=multi_ok,
    )
