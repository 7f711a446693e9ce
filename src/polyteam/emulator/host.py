"""What the protocol modules need of the server that hosts them (`Host`), so they never import it.

`server.Emulator` satisfies this protocol; `httpflow` and `spark_ws` are typed against it, which keeps
the import graph one-way (server -> protocols -> host).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from polyteam.emulator.faults import FaultPlan
from polyteam.emulator.requestlog import RequestLog
from polyteam.emulator.responders import ChatRequest

T = TypeVar("T")


class Host(Protocol):
    """The settings and waiting primitives every protocol reads."""

    log: RequestLog
    credentials: dict[str, Any]
    responder: Callable[[ChatRequest], Any]
    faults: FaultPlan
    latency_s: float
    chunk_latency_s: float
    retry_after_ms: int
    #: fail where the real services fail (provider-quirks.md); False with `--lenient`
    strict: bool

    async def pause(self, seconds: float) -> None: ...

    async def hold(self) -> None: ...

    async def race(self, awaitable: Awaitable[T]) -> T: ...
