"""Whether polyteam can run a GGUF in-process: the bundled SmolLM2 file and the xllamacpp package.

The probe only looks (no import of xllamacpp, no model load); serving the model is
`polyteam.providers.local`'s job. Configuration code takes the probe as a parameter so tests
decide what is "installed".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from polyteam.providers.local_spec import bundled_gguf_path, has_runtime


@dataclass(frozen=True)
class LocalSupport:
    bundled_gguf: Path | None  # the bundled smollm2-135m GGUF, when installed
    has_xllamacpp: bool


def probe_local() -> LocalSupport:
    """What is installed right now (the checks live with the local kind's spec)."""
    return LocalSupport(bundled_gguf=bundled_gguf_path(), has_xllamacpp=has_runtime())


def local_base_url(gguf: Path | str) -> str:
    """What routes, ledgers and reports show as a local endpoint's base: `local://<gguf file name>`.

    The llama.cpp server's real address is an ephemeral 127.0.0.1 port chosen at the first call;
    the file it serves is what identifies the endpoint across runs.
    """
    return f"local://{Path(gguf).name}"
