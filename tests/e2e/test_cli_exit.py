"""The CLI's exit (issue 15): finalization's last collection is skipped, every atexit cleanup still runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Runs `polyteam --help` through `main()`, then holds a (stand-in) local llama server the way a run
# does: `_llama_server` is imported after `main()` started, so its atexit hook is registered later.
SCRIPT = textwrap.dedent(
    """
    import atexit, gc, sys, threading
    from pathlib import Path

    atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0, flush=True))
    from polyteam.cli import main

    sys.argv = ["polyteam", "--help"]
    try:
        main()
    except SystemExit as exc:
        print("exit status:", exc.code, flush=True)

    from polyteam.providers import _llama_server as servers

    class StandIn:
        def stop(self):
            print("server stopped", flush=True)

        def close_log(self):
            print("log closed", flush=True)

    servers._registry[Path("model.gguf")] = servers._Entry(server=StandIn(), refs=1, lock=threading.Lock())
    """
)


def test_exit_freezes_the_heap_and_still_stops_local_llama_servers() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "server stopped" in lines and "log closed" in lines
    assert lines[-1] == "frozen at exit: True"  # the freeze ran, after the server's cleanup
    assert lines.index("server stopped") < lines.index("frozen at exit: True")
