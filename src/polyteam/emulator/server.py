"""The emulator's server: one aiohttp app on one port, routing by path to the four protocol modules.

Owns the lifecycle (start/stop, port 0), the settings every protocol reads (latency, faults, responder,
credentials, retry hint), the request log, and the waiting primitives (`pause`, `race`, `hold`) that
never block shutdown. What each wire looks like is left to openai_api, anthropic_api, zhipu_api, spark_ws.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from polyteam.emulator import anthropic_api, openai_api, spark_ws, zhipu_api
from polyteam.emulator.faults import FaultPlan, FaultRule
from polyteam.emulator.httpflow import Stopping, serve_http
from polyteam.emulator.registry import resolve_responder
from polyteam.emulator.requestlog import RequestLog, max_overlap
from polyteam.emulator.responders import ResponderSpec

T = TypeVar("T")
#: how long shutdown waits for a handler that ignores the stop signal
SHUTDOWN_TIMEOUT_S = 2.0


def normalise_credentials(credentials: dict[str, Any] | None) -> dict[str, Any]:
    """{"spark": {api_key: api_secret}, "zhipu": {id: secret}, "openai"/"anthropic": keys} with empties dropped.

    A zhipu entry may also be given as a list of "id.secret" keys.
    """
    result: dict[str, Any] = {}
    for protocol, value in (credentials or {}).items():
        if not value:
            continue
        if protocol == "zhipu" and not isinstance(value, dict):
            value = dict(str(key).split(".", 1) for key in value)
        if protocol in ("openai", "anthropic"):
            value = set(value) if not isinstance(value, str) else {value}
        result[protocol] = value
    return result


class Emulator:
    """Local servers for the openai, anthropic, zhipu and spark wire protocols on one port.

    `async with Emulator(port=0) as emu:` then point clients at `emu.base_url` / `emu.ws_url`.
    """

    def __init__(
        self,
        port: int = 0,
        latency_ms: int = 0,
        faults: str | FaultPlan | Iterable[FaultRule] | None = None,
        log_path: Path | str | None = None,
        responder: ResponderSpec = "echo",
        credentials: dict[str, Any] | None = None,
        *,
        host: str = "127.0.0.1",
        retry_after_ms: int = 50,
        chunk_latency_ms: int = 0,
        fault_seed: int = 0,
        strict: bool = True,
    ) -> None:
        self.host = host
        #: answer 400/404 where the real services do (provider-quirks.md); `--lenient` turns it off
        self.strict = strict
        self.requested_port = port
        self.latency_s = max(0, latency_ms) / 1000
        self.chunk_latency_s = max(0, chunk_latency_ms) / 1000
        self.retry_after_ms = retry_after_ms
        self.faults = FaultPlan.coerce(faults, fault_seed)
        self.responder = resolve_responder(responder)
        self.credentials = normalise_credentials(credentials)
        self.log = RequestLog(log_path)
        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    # --- addresses and observations -------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port actually bound (after start)."""
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """http://HOST:PORT (no trailing slash, no /v1)."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """ws://HOST:PORT, to which a Spark chat path is appended."""
        return f"ws://{self.host}:{self.port}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every finished request's log record, in order of completion."""
        return self.log.records

    @property
    def in_flight(self) -> int:
        """Requests being served right now."""
        return self.log.in_flight

    def max_in_flight(self, model: str | None = None) -> int:
        """The most finished requests (of `model`, if given) that overlapped in time."""
        return max_overlap(self.log.records, model)

    def set_faults(self, faults: str | Iterable[FaultRule] | None) -> None:
        """Replace the fault rules (counters start afresh)."""
        self.faults.replace(faults)

    # --- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> Emulator:
        """Bind the port and accept connections."""
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # handler_cancellation: a client that hangs up cancels its handler (ends a held `timeout`)
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.requested_port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Release held requests, close connections, close the log file."""
        if self._stopping is not None:
            self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.log.close()

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- waiting that never blocks shutdown ------------------------------------------------------------

    async def race(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable`, or raise Stopping as soon as the emulator stops."""
        assert self._stopping is not None
        if self._stopping.is_set():
            raise Stopping
        task = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, stop):
                if not pending.done():
                    pending.cancel()
        if task.done() and not task.cancelled():
            return task.result()
        raise Stopping

    async def pause(self, seconds: float) -> None:
        """Sleep (latency), cut short by a stop."""
        if seconds > 0:
            await self.race(asyncio.sleep(seconds))
        elif self._stopping is not None and self._stopping.is_set():
            raise Stopping

    async def hold(self) -> None:
        """Never answer: wait until the emulator stops (a client hang-up cancels the handler first)."""
        assert self._stopping is not None
        await self._stopping.wait()
        raise Stopping

    # --- routing -------------------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if request.method == "POST":
            if path.endswith("/api/paas/v4/chat/completions"):
                return await serve_http(self, zhipu_api.PROTOCOL, request)
            if path.endswith("/v1/chat/completions"):
                return await serve_http(self, openai_api.PROTOCOL, request)
            if path.endswith("/v1/messages"):
                return await serve_http(self, anthropic_api.PROTOCOL, request)
        if request.method == "GET":
            if path.endswith("/v1/models"):
                return openai_api.models(request)
            if spark_ws.chat_path(path):
                return await spark_ws.serve(self, request)
        return web.json_response(
            {
                "error": {
                    "message": f"polyteam emulator: nothing is served at {request.method} {request.path}; "
                    "see docs/emulator.md for the URL layout",
                    "type": "not_found",
                    "code": None,
                }
            },
            status=404,
        )
