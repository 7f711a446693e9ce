"""Suite-wide canary check (a pytest plugin, loaded from tests/conftest.py).

During the run it looks at every test report's captured stdout, stderr and log sections (and
failure text); at session end it reads every file under pytest's basetemp (the tmp_path of every
test: ledgers, state, reports, emulator logs, generated projects). If a canary secret from
`canary.py` appears anywhere, the session fails and the summary lists where, by canary name.
Files named like configs (`canary.ALLOWED_FILE_NAMES`) hold the canaries on purpose and are
skipped; so are files ending in `.canary-ok`. The `canary_env` fixture sets every provider key
variable to its canary.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from canary import ALLOWED_FILE_NAMES, canary_environ, find_canaries

_MAX_FILE_BYTES = 64 * 1024 * 1024


@pytest.fixture
def canary_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every provider key variable set to its canary value (for tests that load config from the env)."""
    values = canary_environ()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(CanaryCheck(config), "canary-check")


class CanaryCheck:
    """Collects leaks while the tests run and fails the session if there were any."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.leaks: list[str] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        texts = list(report.sections)
        if report.failed and report.longreprtext:
            texts.append(("failure text", report.longreprtext))
        for section, text in texts:
            for name in find_canaries(text):
                self.leaks.append(f"{report.nodeid} ({report.when}): {section}: {name}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        basetemp = _basetemp(self.config)
        if basetemp is not None:
            self.leaks.extend(scan_tree(basetemp))
        if self.leaks:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.leaks:
            return
        terminalreporter.section("canary secrets leaked", sep="=", red=True, bold=True)
        for leak in self.leaks:
            terminalreporter.line(f"LEAK {leak}", red=True)


def _basetemp(config: pytest.Config) -> Path | None:
    factory = getattr(config, "_tmp_path_factory", None)  # set by pytest's tmpdir plugin
    path = getattr(factory, "_basetemp", None)  # None when no test asked for a tmp_path
    return Path(path) if path is not None else None


def scan_tree(root: Path) -> list[str]:
    """Every `file: canary name` under `root` (symlinks not followed, config files skipped)."""
    found: list[str] = []
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        for filename in filenames:
            path = Path(dirpath) / filename
            if filename in ALLOWED_FILE_NAMES or filename.endswith(".canary-ok") or path.is_symlink():
                continue
            try:
                info = path.lstat()
                if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_FILE_BYTES:
                    continue  # a pipe or socket a test made would block the read
                data = path.read_bytes()
            except OSError:
                continue
            found.extend(f"{path}: {name}" for name in find_canaries(data))
    return found
