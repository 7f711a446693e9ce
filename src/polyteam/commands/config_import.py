"""`polyteam config import PATH [--to DIR]`: write polyteam's files for a MetaGPT config2.yaml.

PATH is a config2.yaml or the folder holding it. The result routes exactly as polyteam reads the
config2.yaml itself (`config/metagpt.py` does both): `multi_llm_config.yaml` with the MODEL_LIST entries,
DEFAULT_LLM and Role routes, and a `config.yaml` for polyteam's own keys. Values are copied as written
(`${VAR}` stays a reference); existing files are never overwritten.
"""

from __future__ import annotations

import sys
from pathlib import Path

from polyteam.config.loading import parse_yaml
from polyteam.config.metagpt import translate_config2
from polyteam.config.schema import CONFIG2_FILE, CONFIG_FILE, MULTI_FILE
from polyteam.errors import ConfigError, ConfigIssue

_CONFIG_TEXT = (
    "# polyteam config.yaml, written by `polyteam config import`.\n"
    "# The LLMs (and their keys) are in multi_llm_config.yaml's MODEL_LIST; add MAX_BUDGET: here if you want a cap.\n"
    "{}\n"
)


def run(path: Path, to: Path) -> None:
    """Translate and write; print what was written.

    Raises:
        ConfigError: PATH is not a readable config2.yaml, it holds what polyteam cannot serve, or a
            file to write exists already.
    """
    import yaml

    source = path / CONFIG2_FILE if path.is_dir() else path
    label = str(source)
    if not source.is_file():
        raise ConfigError(
            [ConfigIssue(label, "", "not found", "give a config2.yaml or the folder holding it")]
        )
    try:
        text = source.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(label, "", "cannot be read as UTF-8 text", "")]) from exc
    data, issues, _ok = parse_yaml(text, label)
    translation = translate_config2(data, label)
    issues += translation.issues
    targets = (to / CONFIG_FILE, to / MULTI_FILE)
    issues += [
        ConfigIssue(str(t), "", "exists already", "choose another --to folder") for t in targets if t.exists()
    ]
    if issues:
        raise ConfigError(issues)
    for warning in translation.warnings:
        print(f"polyteam: warning: {warning}", file=sys.stderr)
    to.mkdir(parents=True, exist_ok=True)
    multi = yaml.safe_dump(translation.multi, sort_keys=False, allow_unicode=True)
    targets[0].write_text(_CONFIG_TEXT, encoding="utf-8")
    targets[1].write_text(f"# written by `polyteam config import {source}`\n{multi}", encoding="utf-8")
    print(f"wrote {targets[0]} and {targets[1]}; check them with: polyteam routes --config-dir {to}")
