"""The suite-wide canary check (tests/canary_plugin.py) catches a planted leak, and only a leak."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parents[1]


@pytest.fixture
def outside_dir() -> Iterator[Path]:
    # outside this session's basetemp, so the planted leaks do not fail the outer session
    path = Path(tempfile.mkdtemp(prefix="polyteam-canary-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _run_inner(where: Path, body: str) -> subprocess.CompletedProcess[str]:
    (where / "test_inner.py").write_text(textwrap.dedent(body), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", "-p", "canary_plugin", "-p", "no:cacheprovider",
            "--basetemp", str(where / "basetemp"), "--rootdir", str(where), "-c", os.devnull,
            str(where / "test_inner.py"),
        ],
        cwd=where, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_printed_canary_fails_the_session(outside_dir: Path) -> None:
    result = _run_inner(
        outside_dir,
        """
        from canary import OPENAI_API_KEY

        def test_prints_key():
            print("calling with", OPENAI_API_KEY)
        """,
    )
    assert result.returncode == 1, result.stdout[-2000:]
    assert "1 passed" in result.stdout
    assert "canary secrets leaked" in result.stdout
    assert "test_inner.py::test_prints_key (call): Captured stdout call: OPENAI_API_KEY" in result.stdout
    assert "sk-canary" not in result.stdout  # the report names the canary, never shows it


def test_a_file_with_the_zhipu_secret_half_fails_the_session(outside_dir: Path) -> None:
    result = _run_inner(
        outside_dir,
        """
        from canary import ZHIPUAI_API_KEY, ZHIPUAI_SECRET

        def test_writes(tmp_path):
            (tmp_path / "config.yaml").write_text("ZHIPUAI_API_KEY: " + ZHIPUAI_API_KEY)  # input: allowed
            (tmp_path / "ledger.jsonl").write_text('{"error": "bad key ' + ZHIPUAI_SECRET + '"}')
        """,
    )
    assert result.returncode == 1, result.stdout[-2000:]
    assert "ledger.jsonl: ZHIPUAI_API_KEY (secret half)" in result.stdout
    assert "config.yaml" not in result.stdout


def test_a_clean_session_passes(outside_dir: Path) -> None:
    result = _run_inner(
        outside_dir,
        """
        from canary import SPARK_API_SECRET
        from polyteam.redact import redact, register_secret

        def test_redacted(tmp_path):
            register_secret(SPARK_API_SECRET)
            print(redact("signing with " + SPARK_API_SECRET))
            (tmp_path / "log.txt").write_text(redact("secret " + SPARK_API_SECRET))
        """,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert "canary secrets leaked" not in result.stdout


def test_canary_env_fixture_sets_every_provider_key(canary_env: dict[str, str]) -> None:
    from canary import SPARK_API_SECRET, ZHIPUAI_API_KEY

    assert os.environ["SPARK_API_SECRET"] == SPARK_API_SECRET
    assert os.environ["ZHIPUAI_API_KEY"] == ZHIPUAI_API_KEY
    assert set(canary_env) >= {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SPARK_API_KEY"}
