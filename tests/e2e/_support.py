"""What the subprocess tests share: running `polyteam` as a user does, and the team's emulator config.

`run_polyteam` fails the test on a hang or on a canary secret in the command's stdout or stderr, so
every CLI run in tests/e2e is checked for leaks. `write_team_config` writes the routing of issue 4's
"Done when" (every provider on one emulator, keys from `canary.py`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import canary
from canary import assert_no_canary

REQUIREMENT = "Write a CLI todo app with tags"
RUN_TIMEOUT = 120
#: what every run gets in its environment (a test's `env` may override it): no wrapped summary lines
BASE_ENV = {"COLUMNS": "200", "PYTHONIOENCODING": "utf-8"}


def polyteam_args(*args: str) -> list[str]:
    """The command line of `polyteam ARGS` (the module, so the venv's own interpreter runs it)."""
    return [sys.executable, "-m", "polyteam.cli", *args]


def run_polyteam(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = RUN_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run `polyteam ARGS` to the end; fail on a hang or a canary secret in stdout or stderr."""
    try:
        result = subprocess.run(
            polyteam_args(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout,
            env={**os.environ, **BASE_ENV, **(env or {})},
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:  # a hang is a finding, not a stuck suite
        pytest.fail(f"polyteam {args[0]} hung for {timeout}s; stderr tail: {str(exc.stderr)[-1500:]}")
    assert_no_canary(result.stdout, f"`polyteam {args[0]}` stdout")
    assert_no_canary(result.stderr, f"`polyteam {args[0]}` stderr")
    return result


def project_in(workdir: Path) -> Path:
    """The one project folder (it holds a saved run state) under `workdir`."""
    projects = [p for p in workdir.iterdir() if (p / ".polyteam" / "state.json").is_file()]
    assert len(projects) == 1, projects
    return projects[0]


def default_model_list(base_url: str) -> str:
    """MODEL_LIST with the one open model WriteCode routes to."""
    return f"""MODEL_LIST:
  coder-7b:
    open_llm_api_base: "{base_url}/coder/v1"
    api_key: "{canary.OPEN_LLM_API_KEY}"
"""


def write_team_config(folder: Path, base_url: str, *, extra: str = "", model_list: str | None = None) -> Path:
    """config.yaml with every provider at the emulator `base_url`, and multi_llm_config.yaml routing

    ProductManager -> openai, Architect -> claude, ProjectManager -> spark, Engineer -> zhipu and
    WriteCode -> coder-7b (`model_list`, by default `default_model_list`). `extra` is appended to
    config.yaml (prices, MAX_BUDGET)."""
    port = base_url.rsplit(":", 1)[1]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(
        f"""OPENAI_API_KEY: "{canary.OPENAI_API_KEY}"
OPENAI_API_BASE: "{base_url}/v1"
OPENAI_API_MODEL: "gpt-4o-mini"
Anthropic_API_KEY: "{canary.ANTHROPIC_API_KEY}"
ANTHROPIC_API_BASE: "{base_url}"
ANTHROPIC_API_MODEL: "claude-3-5-haiku-20241022"
SPARK_APPID: "{canary.SPARK_APPID}"
SPARK_API_SECRET: "{canary.SPARK_API_SECRET}"
SPARK_API_KEY: "{canary.SPARK_API_KEY}"
DOMAIN: "generalv3.5"
SPARK_URL: "ws://127.0.0.1:{port}/v3.5/chat"
ZHIPUAI_API_KEY: "{canary.ZHIPUAI_API_KEY}"
ZHIPUAI_API_BASE: "{base_url}/api/paas/v4"
ZHIPUAI_API_MODEL: "glm-4-flash"
{extra}"""
    )
    routing = "ProductManager: openai\nArchitect: claude\nProjectManager: spark\nEngineer: zhipu\nWriteCode: coder-7b\n"
    (folder / "multi_llm_config.yaml").write_text(
        routing + (model_list if model_list is not None else default_model_list(base_url))
    )
    return folder
