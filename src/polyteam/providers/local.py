"""The `local` provider: a GGUF that polyteam serves itself with llama.cpp, spoken to over the OpenAI wire.

`LocalProvider` starts (at its first call, not before) the shared llama.cpp server for its GGUF through
`polyteam.providers._llama_server` (one child process per GGUF, reference counted, shared by every route
using it), then delegates each call to `OpenAIProvider` pointed at `http://127.0.0.1:PORT/v1` with JSON
schema support on. It adds only what a tiny local model needs: sampling defaults that keep it out of
loops, unless the caller set them. One attempt per call; retries and fallback live in `polyteam.gateway`.

Also here: finding the bundled SmolLM2 GGUF (`bundled_gguf_path`, `resolve_gguf`) without importing its
package, and the one-line configuration errors for a missing runtime or model. Nothing heavy is imported
at module import time: `xllamacpp` only ever loads in the server's child process.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from polyteam.errors import ConfigError, ConfigIssue, ProviderError
from polyteam.providers._common import make_error
from polyteam.providers._llama_server import (
    DEFAULT_N_CTX,
    DEFAULT_THREADS,
    LlamaServer,
    ServerSettings,
    acquire_server,
    release_server,
)
from polyteam.providers.base import CallOptions, Completion, Endpoint, Message, Provider, Stream
from polyteam.providers.local_spec import (
    BUNDLED_INSTALL_HINT,
    BUNDLED_MODEL,
    LOCAL_INSTALL_HINT,
    bundled_gguf_path,
    has_runtime,
)
from polyteam.providers.sampling import SMALL_MODEL_REPEAT_PENALTY as DEFAULT_REPEAT_PENALTY
from polyteam.providers.sampling import SMALL_MODEL_TEMPERATURE as DEFAULT_TEMPERATURE
from polyteam.providers.sampling import small_model_defaults

__all__ = [
    "BUNDLED_ALIAS",
    "DEFAULT_REPEAT_PENALTY",
    "DEFAULT_TEMPERATURE",
    "LocalProvider",
    "bundled_gguf_path",
    "has_runtime",
    "local_issues",
    "resolve_gguf",
]

#: the `gguf:` value naming the bundled model (its one definition is in local_spec.py)
BUNDLED_ALIAS = BUNDLED_MODEL
INSTALL_RUNTIME = LOCAL_INSTALL_HINT
INSTALL_BUNDLED = BUNDLED_INSTALL_HINT

_CONFIG_FILE = "multi_llm_config.yaml"


def resolve_gguf(
    value: str, *, file: str = _CONFIG_FILE, key: str = "gguf", base_dir: Path | None = None
) -> Path:
    """The GGUF file a `gguf:` value names: `smollm2-135m` for the bundled model, else a path.

    A relative path is taken from `base_dir` (the config folder) when given, else the working directory.

    Raises:
        ConfigError: the bundled model is not installed, or the file does not exist.
    """
    if value.strip().lower() == BUNDLED_ALIAS:
        path = bundled_gguf_path()
        if path is None:
            raise ConfigError(
                [
                    ConfigIssue(
                        file,
                        key,
                        f"the bundled model {BUNDLED_ALIAS} is not installed",
                        f"run `{INSTALL_BUNDLED}`",
                    )
                ]
            )
        return path
    path = Path(value).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise ConfigError(
            [
                ConfigIssue(
                    file,
                    key,
                    f"GGUF file not found: {path}",
                    f"give the path of a .gguf file or `{BUNDLED_ALIAS}`",
                )
            ]
        )
    return path.resolve()


def local_issues(gguf: str | None, *, file: str = _CONFIG_FILE, key: str = "gguf") -> list[ConfigIssue]:
    """Every problem with a `local` entry, for config validation before any call (no imports, no I/O but stat)."""
    issues: list[ConfigIssue] = []
    if not has_runtime():
        issues.append(
            ConfigIssue(
                file,
                key,
                "api_type local needs the llama.cpp runtime (xllamacpp)",
                f"run `{INSTALL_RUNTIME}`",
            )
        )
    if not gguf:
        issues.append(
            ConfigIssue(
                file, key, "api_type local needs a gguf file", f"set `gguf: PATH` or `gguf: {BUNDLED_ALIAS}`"
            )
        )
        return issues
    try:
        resolve_gguf(gguf, file=file, key=key)
    except ConfigError as exc:
        issues.extend(exc.issues)
    return issues


class LocalProvider:
    """A GGUF served by polyteam's own llama.cpp server on 127.0.0.1, started at the first call.

    Raises (at construction):
        ConfigError: xllamacpp is not installed, or the endpoint names no existing GGUF.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        issues = local_issues(
            endpoint.gguf, key=f"MODEL_LIST.{endpoint.llm}.gguf" if endpoint.llm else "gguf"
        )
        if issues:
            raise ConfigError(issues)
        self._settings = ServerSettings(
            gguf=resolve_gguf(endpoint.gguf or ""),
            threads=endpoint.threads or DEFAULT_THREADS,
            n_ctx=endpoint.n_ctx or DEFAULT_N_CTX,
            alias=endpoint.model,
        )
        self._server: LlamaServer | None = None
        self._inner: Provider | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def server(self) -> LlamaServer | None:
        """The running server this provider holds, if it made a call already."""
        return self._server

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        """One attempt through the local server. Raises: a `polyteam.errors.ProviderError` subclass."""
        inner = await self._ready()
        return await inner.complete(messages, self._with_defaults(options))

    async def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        """One streamed attempt: `Delta`s, then the joined `Completion`. Raises: a `ProviderError`."""
        inner = await self._ready()
        async for item in inner.stream(messages, self._with_defaults(options)):
            yield item

    async def aclose(self) -> None:
        """Close the client and give back this provider's reference; the last one stops the server.

        A later call starts (or joins) the server again.
        """
        await self._drop()

    # -- helpers ----------------------------------------------------------------------------------

    async def _ready(self) -> Provider:
        """The OpenAI-compatible provider for the running server, (re)starting it when needed."""
        if self._inner is not None and self._server is not None and self._server.is_alive():
            return self._inner
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._inner is not None and self._server is not None and self._server.is_alive():
                return self._inner
            # first call, or the server died (a model crash): drop what is left; acquire starts a fresh one
            await self._drop()
            try:
                server = await asyncio.to_thread(acquire_server, self._settings)
            except ProviderError as exc:  # name this endpoint, not the shared server's alias
                where = dataclasses.replace(self.endpoint, base_url="http://127.0.0.1")
                raise make_error(ProviderError, where, exc.message) from exc
            self._server = server
            self._inner = self._make_inner(server)
            return self._inner

    async def _drop(self) -> None:
        inner, self._inner = self._inner, None
        server, self._server = self._server, None
        if inner is not None:
            await inner.aclose()
        if server is not None:
            await asyncio.to_thread(release_server, server)

    def _make_inner(self, server: LlamaServer) -> Provider:
        wire = dataclasses.replace(
            self.endpoint,
            base_url=f"{server.base_url}/v1",
            api_key=SecretStr(server.api_key),
            json_schema=True,
        )
        return _llama_cpp_wire_class()(wire)

    @staticmethod
    def _with_defaults(options: CallOptions) -> CallOptions:
        # the one place for these defaults is polyteam.providers.sampling (the team's call options use it too)
        return small_model_defaults(options, local=True)


@functools.cache
def _llama_cpp_wire_class() -> type:
    """`OpenAIProvider` adapted to llama.cpp's server (built lazily: importing this module loads no SDK)."""
    from polyteam.providers.openai import OpenAIProvider

    class LlamaCppWireProvider(OpenAIProvider):
        """The OpenAI wire to llama.cpp's server, which drops the connection after a stream."""

        def _stream_request(self, messages: list[Message], options: CallOptions) -> dict[str, Any]:
            # llama.cpp's server advertises keep-alive but closes the connection after an SSE reply, and
            # reusing it fails about 1 time in 4 ("Server disconnected"): ask for the close ourselves
            request = super()._stream_request(messages, options)
            return {**request, "extra_headers": {**request.get("extra_headers", {}), "Connection": "close"}}

    return LlamaCppWireProvider
