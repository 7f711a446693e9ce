"""EmulatorThread: the emulator on its own event loop in a background thread, for sync code and tests.

Start-up is signalled with a threading.Event (no polling); a start-up failure is re-raised in the caller.
`stop()` asks the loop to stop the emulator and joins the thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from polyteam.emulator.faults import FaultPlan
from polyteam.emulator.requestlog import RequestLog
from polyteam.emulator.server import Emulator


class EmulatorThread:
    """`with EmulatorThread(port=0) as emu:` — the same attributes as Emulator (base_url, requests, …)."""

    def __init__(self, *args: Any, start_timeout: float = 30.0, **kwargs: Any) -> None:
        self.emulator = Emulator(*args, **kwargs)
        self._start_timeout = start_timeout
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="polyteam-emulator", daemon=True)

    def start(self) -> EmulatorThread:
        """Start the thread and return once the port accepts connections.

        Raises:
            OSError or whatever the emulator raised while starting; TimeoutError if it never became ready.
        """
        self._thread.start()
        if not self._ready.wait(self._start_timeout):
            raise TimeoutError("the emulator thread did not become ready")
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def stop(self) -> None:
        """Stop the emulator and join the thread (idempotent)."""
        if self._loop is not None and self._done is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._done.set)
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        try:
            await self.emulator.start()
        except BaseException as exc:  # handed to the thread that called start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._done.wait()
        finally:
            await self.emulator.stop()

    # --- the Emulator's observable surface, forwarded explicitly -----------------------------------------

    @property
    def port(self) -> int:
        return self.emulator.port

    @property
    def base_url(self) -> str:
        return self.emulator.base_url

    @property
    def ws_url(self) -> str:
        return self.emulator.ws_url

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.emulator.requests

    @property
    def in_flight(self) -> int:
        return self.emulator.in_flight

    @property
    def log(self) -> RequestLog:
        return self.emulator.log

    @property
    def faults(self) -> FaultPlan:
        return self.emulator.faults

    def max_in_flight(self, model: str | None = None) -> int:
        return self.emulator.max_in_flight(model)

    def set_faults(self, faults: Any) -> None:
        self.emulator.set_faults(faults)

    def wait_for_requests(self, count: int, timeout: float = 10.0, *, in_flight: bool = False) -> bool:
        """Block until `count` requests are logged (or in flight); False on timeout."""
        return self.emulator.log.wait_for(count, timeout, in_flight=in_flight)
