"""Suite-wide fixtures: no developer's real keys or config ever reach a test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest_plugins = ["canary_plugin"]  # suite-wide canary-secret check (tests/canary_plugin.py)

PROVIDER_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_API_BASE",
    "OPENAI_BASE_URL",
    "OPENAI_API_MODEL",
    "OPENAI_PROXY",
    "Anthropic_API_KEY",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_API_BASE",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_MODEL",
    "SPARK_APPID",
    "SPARK_API_SECRET",
    "SPARK_API_KEY",
    "DOMAIN",
    "SPARK_URL",
    "ZHIPUAI_API_KEY",
    "ZHIPUAI_API_BASE",
    "ZHIPUAI_BASE_URL",
    "ZHIPUAI_API_MODEL",
    "OPEN_LLM_API_BASE",
    "OPEN_LLM_API_MODEL",
    "MAX_BUDGET",
    "CODE_REVIEW_K",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def _clean_provider_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    # ~/.polyteam/ is a config location: point HOME at an empty folder
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(autouse=True)
def _own_secret_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a test registers with polyteam.redact is forgotten after it: the registry is process-wide,
    and a key one test loaded (a property test's random word, say) must not mask another test's text."""
    import polyteam.redact as redaction

    monkeypatch.setattr(redaction, "_secrets", set(redaction._secrets))
    monkeypatch.setattr(redaction, "_secret_re", redaction._secret_re)


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Any]]:
    """Factory: `make_emulator(**Emulator kwargs)` starts an EmulatorThread (port 0) stopped after the test."""
    from polyteam.emulator import EmulatorThread

    started: list[EmulatorThread] = []

    def make(**kwargs: Any) -> EmulatorThread:
        kwargs.setdefault("port", 0)
        emu = EmulatorThread(**kwargs).start()
        started.append(emu)
        return emu

    yield make
    for emu in reversed(started):
        emu.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., Any]) -> Any:
    """A running emulator (own thread, port 0, echo responder): `emulator.base_url`, `emulator.requests`."""
    return make_emulator()
