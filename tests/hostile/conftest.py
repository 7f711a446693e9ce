"""The hostile server, started on 127.0.0.1 for a test and stopped after it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "e2e"))


@pytest.fixture
def hostile() -> Iterator[Callable[..., Any]]:
    from _server import HostileServer

    started: list[HostileServer] = []

    def make(script: Any) -> HostileServer:
        server = HostileServer(script).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
