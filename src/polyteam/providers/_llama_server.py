"""llama.cpp's OpenAI-compatible HTTP server for one GGUF, run in a child process, and a shared registry.

This module owns the *process* side of the `local` provider:

- `LlamaServer`: one child Python process (`python -m polyteam.providers._llama_server`) that loads a GGUF
  with `xllamacpp.Server` (llama.cpp's own C++ server, bound to 127.0.0.1 on a free port the OS picks),
  prints one ready line with its address, and lives until its stdin closes or it is terminated. A crash
  of the model kills only the child: polyteam sees refused connections (a retryable `TransportError`) and
  the next call starts a fresh server.
- a registry keyed by the GGUF's resolved path: every route using one GGUF shares one server; callers
  `acquire_server` / `release_server` it (reference counted) and the last release stops it. An `atexit`
  hook stops whatever is left, and the child also exits by itself when the parent dies (stdin EOF).

The parent never imports `xllamacpp`; only the child does. Talking to the server (the OpenAI wire) is
`polyteam.providers.local`'s job, through the OpenAI-compatible provider.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from polyteam.errors import ProviderError
from polyteam.redact import redact, register_secret

#: the child's one ready line on stdout; the address follows it
READY_PREFIX = "polyteam-llama: listening on "
#: how the child learns the API key it must demand (never on the command line, which `ps` shows)
KEY_ENV = "POLYTEAM_LLAMA_API_KEY"
DEFAULT_THREADS = 2
DEFAULT_N_CTX = 4096
DEFAULT_PARALLEL = 2
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ServerSettings:
    """How to run one GGUF. The registry keys servers by `gguf` alone: the first caller's settings win."""

    gguf: Path
    threads: int = DEFAULT_THREADS
    n_ctx: int = DEFAULT_N_CTX
    parallel: int = DEFAULT_PARALLEL
    alias: str = ""


class LlamaServer:
    """One running llama.cpp server in a child process. Use the registry rather than this class directly."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.api_key = secrets.token_urlsafe(24)
        register_secret(self.api_key)
        self.base_url = ""  # http://127.0.0.1:PORT once started
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[bytes] | None = None

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1]) if self.base_url else 0

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and bool(self.base_url)

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the child to exit (it was stopped or crashed); its exit status, None if not started."""
        return self._proc.wait(timeout) if self._proc is not None else None

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start the child and wait for its ready line (no polling: the child prints it once listening).

        Raises:
            ProviderError: the child exited or stayed silent past `timeout`; the message carries the
                last line llama.cpp logged.
        """
        s = self.settings
        cmd = [
            sys.executable, "-m", "polyteam.providers._llama_server",
            "--gguf", str(s.gguf), "--threads", str(s.threads), "--n-ctx", str(s.n_ctx),
            "--parallel", str(s.parallel), "--alias", s.alias or s.gguf.stem,
        ]  # fmt: skip
        env = dict(os.environ, **{KEY_ENV: self.api_key})
        # llama.cpp logs to stderr; a file (not a pipe) never fills up and blocks the child
        self._log = tempfile.TemporaryFile(prefix="polyteam-llama-")  # noqa: SIM115 - lives with the server
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
            # its own session: a Ctrl-C in the terminal reaches polyteam, which stops the server itself
            start_new_session=True,
        )
        line_box: list[str] = []
        reader = threading.Thread(target=lambda: line_box.append(self._proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        line = line_box[0].strip() if line_box else ""
        if not line.startswith(READY_PREFIX):
            why = "did not become ready in time" if reader.is_alive() else "exited before it was ready"
            self.stop()
            raise ProviderError(
                f"llama.cpp server for {s.gguf.name} {why}: {self._log_reason()}",
                llm=s.alias or s.gguf.stem,
                provider="local",
                base_url="http://127.0.0.1",
            )
        self.base_url = line[len(READY_PREFIX) :]

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the child (close its stdin, then terminate, then kill) and wait for it. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                if proc.stdin:
                    proc.stdin.close()  # the child exits on EOF
                proc.wait(timeout=timeout / 2)
            except (subprocess.TimeoutExpired, OSError):
                proc.terminate()
                try:
                    proc.wait(timeout=timeout / 2)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                if stream and not stream.closed:
                    stream.close()
        self.base_url = ""

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_reason(self) -> str:
        """llama.cpp's first logged error (the root cause, e.g. "invalid magic characters"), else its last line."""
        if self._log is None:
            return "no log"
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        errors = [m.group(1) for m in map(_LOG_ERROR.match, lines) if m]
        reason = errors[0] if errors else (lines[-1] if lines else "no output")
        return redact(reason[:300])


_LOG_ERROR = re.compile(r"^[\d.]+ E (.+)$")  # llama.cpp's log format: "0.00.003.864 E message"


# --- the registry: one server per GGUF, shared and reference counted ---------------------------------


@dataclass
class _Entry:
    server: LlamaServer | None
    refs: int
    lock: threading.Lock


_registry: dict[Path, _Entry] = {}
_registry_lock = threading.Lock()


def acquire_server(settings: ServerSettings) -> LlamaServer:
    """The running server for `settings.gguf`, started if needed (or restarted if it died); +1 reference.

    Blocking (it may start a process): call it from a worker thread in async code.

    Raises:
        ProviderError: the server could not start.
    """
    key = settings.gguf.resolve()
    with _registry_lock:
        entry = _registry.setdefault(key, _Entry(server=None, refs=0, lock=threading.Lock()))
        entry.refs += 1
    try:
        with entry.lock:
            if entry.server is None or not entry.server.is_alive():
                if entry.server is not None:
                    entry.server.stop()
                    entry.server.close_log()
                    entry.server = None
                server = LlamaServer(settings)
                server.start()
                entry.server = server
            return entry.server
    except BaseException:
        _drop_ref(key, entry)
        raise


def release_server(server: LlamaServer) -> None:
    """Give back one reference; the last one stops the server. Releasing a dead server is harmless."""
    key = server.settings.gguf.resolve()
    with _registry_lock:
        entry = _registry.get(key)
    if entry is not None:
        _drop_ref(key, entry)


def _drop_ref(key: Path, entry: _Entry) -> None:
    to_stop: LlamaServer | None = None
    with _registry_lock:
        entry.refs -= 1
        if entry.refs <= 0 and _registry.get(key) is entry:
            del _registry[key]
            to_stop, entry.server = entry.server, None
    if to_stop is not None:
        with entry.lock:
            to_stop.stop()
            to_stop.close_log()


def running_servers() -> dict[Path, tuple[LlamaServer, int]]:
    """A snapshot {resolved gguf: (server, references)} of the servers currently held."""
    with _registry_lock:
        return {k: (e.server, e.refs) for k, e in _registry.items() if e.server is not None}


def stop_all() -> None:
    """Stop every server regardless of references (end of a run, or interpreter exit)."""
    with _registry_lock:
        entries = list(_registry.values())
        _registry.clear()
    for entry in entries:
        with entry.lock:
            if entry.server is not None:
                entry.server.stop()
                entry.server.close_log()
                entry.server = None


atexit.register(stop_all)


# --- the child ----------------------------------------------------------------------------------------


def _serve(argv: list[str]) -> int:
    """Child entry point: load the GGUF, print the ready line, serve until stdin closes."""
    import argparse

    parser = argparse.ArgumentParser(prog="polyteam.providers._llama_server")
    parser.add_argument("--gguf", required=True)
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--n-ctx", type=int, default=DEFAULT_N_CTX)
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL)
    parser.add_argument("--alias", default="")
    args = parser.parse_args(argv)

    import xllamacpp  # the only place polyteam imports it

    params = xllamacpp.CommonParams()
    params.model.path = args.gguf
    params.n_ctx = args.n_ctx
    params.n_parallel = args.parallel
    # one KV cache shared by the slots: every request may use the whole n_ctx, not n_ctx / parallel
    params.kv_unified = True
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.port = 0  # the OS picks a free port; hostnames default to 127.0.0.1
    params.ui = False  # no web UI: polyteam only needs the API
    if args.alias:
        params.model_alias = {args.alias}
    key = os.environ.pop(KEY_ENV, "")
    if key:
        params.api_keys = [key]
    server = xllamacpp.Server(params)  # returns once the model is loaded and the socket listens
    print(READY_PREFIX + server.listening_address, flush=True)
    sys.stdin.read()  # until the parent closes our stdin or dies
    # llama.cpp's destructor joins its HTTP threads; the process is going away, so skip it
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(_serve(sys.argv[1:]))
