"""`polyteam emulate`: serve the four wire protocols until Ctrl-C or SIGTERM.

Parses nothing itself beyond turning option errors into UsageError lines; the servers are
polyteam.emulator.Emulator. Prints exactly one ready line, flushed, once the port accepts connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyteam.emulator import Emulator

READY = "polyteam emulate: listening on {url}"


def run(
    port: int = 8765,
    host: str = "127.0.0.1",
    latency_ms: int = 0,
    faults: str | None = None,
    log: Path | None = None,
    responder: str = "echo",
    strict: bool = True,
) -> None:
    """Run the emulator in the foreground.

    Raises:
        UsageError: a bad --faults spec or --responder, or no aiohttp (the `emulate` extra); one line
            naming the option and the fix.
    """
    from polyteam.errors import UsageError

    try:
        from polyteam.emulator import Emulator, FaultSpecError
    except ModuleNotFoundError as exc:  # the `emulate` extra is not installed
        if exc.name != "aiohttp":
            raise
        fix = "pip install 'polyteam[emulate]'"
        raise UsageError("polyteam emulate", "", "needs aiohttp, which is not installed", fix) from None
    try:
        emulator = Emulator(
            port=port,
            host=host,
            latency_ms=latency_ms,
            faults=faults,
            log_path=log,
            responder=responder,
            strict=strict,
        )
    except (FaultSpecError, ValueError, ImportError) as exc:
        option, _, problem = str(exc).partition(": ")
        if not problem:
            option, problem = "--responder", str(exc)
        raise UsageError("polyteam emulate", option, problem) from exc
    asyncio.run(_serve(emulator))


async def _serve(emulator: Emulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # not available on every platform: there Ctrl-C raises KeyboardInterrupt instead
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await emulator.start()
    except OSError as exc:  # the port is taken, or the address is not this machine's
        from polyteam.errors import UsageError

        fix = "pick another --port (0: any free port)" if exc.errno == errno.EADDRINUSE else "check --host"
        raise UsageError(
            "polyteam emulate", "--port", f"cannot listen there: {exc.strerror or exc}", fix
        ) from None
    try:
        print(READY.format(url=emulator.base_url), flush=True)
        spark = ", ".join(f"{emulator.ws_url}{path}" for path in ("/v3.5/chat", "/v4.0/chat"))
        print(
            f"  openai {emulator.base_url}/v1 | anthropic {emulator.base_url} | "
            f"zhipu {emulator.base_url}/api/paas/v4 | spark {spark} …",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
    finally:
        await emulator.stop()
