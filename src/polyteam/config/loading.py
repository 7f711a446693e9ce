"""Finding the configuration folder and reading its files into plain data.

Owns the lookup order (`--config-dir`, `POLYTEAM_CONFIG_DIR`, ./config/, `$XDG_CONFIG_HOME/polyteam/`,
~/.polyteam/, and ~/.metagpt/ when it holds a config2.yaml), the files read there (config.yaml,
multi_llm_config.yaml, MetaGPT's config2.yaml, a `.env`), YAML parsing (libyaml's loader when installed)
with line:column errors, duplicate-key detection, a size cap and a depth cap. It judges nothing else:
`validate.py` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from polyteam.config.dotenv import DOTENV_FILE, read_dotenv
from polyteam.config.schema import CONFIG2_FILE, CONFIG_FILE, MULTI_FILE
from polyteam.errors import ConfigIssue

#: no configuration file is this large; a bigger one is refused before parsing (issue 13)
MAX_CONFIG_BYTES = 4 * 1024 * 1024
_BASE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml is ~10x faster


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
    #: MetaGPT 0.7+'s config2.yaml in the same folder (None when absent)
    config2: Any = None
    config2_label: str = CONFIG2_FILE
    #: KEY=VALUE lines of the folder's .env (the real environment wins over them)
    dotenv: dict[str, str] = field(default_factory=dict)
    #: one-line notices (the folder used was ~/.metagpt/)
    notices: list[ConfigIssue] = field(default_factory=list)


def find_config_dir(
    config_dir: Path | None = None,
    *,
    cwd: Path | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path | None:
    """The folder to read: `config_dir` if given, else `POLYTEAM_CONFIG_DIR`, ./config/,
    `$XDG_CONFIG_HOME/polyteam/` (default ~/.config/polyteam/), ~/.polyteam/, and last ~/.metagpt/
    if it holds a config2.yaml; else None."""
    if config_dir is not None:
        return config_dir
    env = environ or {}
    if env.get("POLYTEAM_CONFIG_DIR", "").strip():
        return Path(env["POLYTEAM_CONFIG_DIR"].strip()).expanduser()
    home = home or Path.home()
    xdg = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME", "").strip() else home / ".config"
    for folder in ((cwd or Path.cwd()) / "config", xdg / "polyteam", home / ".polyteam"):
        if folder.is_dir():
            return folder
    metagpt = home / ".metagpt"
    if (metagpt / CONFIG2_FILE).is_file():
        return metagpt
    return None


class _Loader(_BASE_LOADER):  # type: ignore[misc, valid-type]
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
    except RecursionError:  # the pure-Python loader on deeply nested data (libyaml caps it at 1000)
        issue = ConfigIssue(
            label, "", "YAML is nested too deeply", "no configuration nests more than a few levels"
        )
        return None, [issue], False
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
        if path.stat().st_size > MAX_CONFIG_BYTES:
            fix = f"a configuration file is at most {MAX_CONFIG_BYTES // (1024 * 1024)} MB"
            return None, [ConfigIssue(label, "", "is too large to be a configuration file", fix)], False
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
    """Find the folder and read its files; never raises on bad content (problems become issues)."""
    home = Path(environ["HOME"]) if environ and environ.get("HOME") else None
    folder = find_config_dir(config_dir, home=home, environ=environ)
    if folder is None:
        return ConfigFiles(config_dir=None)
    if not folder.is_dir():
        key = "--config-dir" if config_dir is not None else "POLYTEAM_CONFIG_DIR"
        issue = ConfigIssue(str(folder), key, "is not a folder", "pass the folder holding config.yaml")
        return ConfigFiles(config_dir=folder, issues=[issue])
    labels = {name: str(folder / name) for name in (CONFIG_FILE, MULTI_FILE, CONFIG2_FILE)}
    config, config_issues, config_ok = _read(folder / CONFIG_FILE, labels[CONFIG_FILE])
    multi, multi_issues, multi_ok = _read(folder / MULTI_FILE, labels[MULTI_FILE])
    config2, config2_issues, _ok = _read(folder / CONFIG2_FILE, labels[CONFIG2_FILE])
    dotenv, dotenv_issues = read_dotenv(folder / DOTENV_FILE)
    notices = []
    if config_dir is None and folder.name == ".metagpt":
        notices.append(
            ConfigIssue(
                labels[CONFIG2_FILE], "", "read MetaGPT's configuration (no polyteam configuration found)", ""
            )
        )
    return ConfigFiles(
        config_dir=folder,
        config=config,
        multi=multi,
        config_label=labels[CONFIG_FILE],
        multi_label=labels[MULTI_FILE],
        issues=[*config_issues, *multi_issues, *config2_issues, *dotenv_issues],
        config_ok=config_ok,
        multi_ok=multi_ok,
        config2=config2,
        config2_label=labels[CONFIG2_FILE],
        dotenv=dotenv,
        notices=notices,
    )
