"""The sampling defaults for small models, in one place (local GGUFs and endpoints marked `tiny`).

At temperature 0 SmolLM2 loops, and llama.cpp's own default (0.8) makes it ramble: 0.3 with a
repeat penalty keeps tiny models moving (weak-models.md). Both the team's call options
(`polyteam.actions.structured.call_options`) and `polyteam.providers.local.LocalProvider` (for
callers that set nothing, e.g. `polyteam ask`) apply `small_model_defaults`; a value the caller
set always wins.
"""

from __future__ import annotations

import dataclasses

from polyteam.providers.base import CallOptions, Endpoint

SMALL_MODEL_TEMPERATURE = 0.3
#: llama.cpp's name for it; sent only to servers polyteam runs itself (`kind == "local"`)
SMALL_MODEL_REPEAT_PENALTY = 1.2


def is_small(endpoint: Endpoint | None) -> bool:
    """Whether `endpoint` gets the small-model defaults (a local GGUF, or an entry marked tiny)."""
    return endpoint is not None and (endpoint.tiny or endpoint.kind == "local")


def small_model_defaults(options: CallOptions, *, local: bool) -> CallOptions:
    """`options` with the small-model sampling filled in where unset; `local`: a server polyteam runs."""
    temperature = SMALL_MODEL_TEMPERATURE if options.temperature is None else options.temperature
    extra = dict(options.extra_body)
    if local:
        extra.setdefault("repeat_penalty", SMALL_MODEL_REPEAT_PENALTY)
    return dataclasses.replace(options, temperature=temperature, extra_body=extra)


def sampling_for(options: CallOptions, endpoint: Endpoint | None) -> CallOptions:
    """`options` with the defaults `endpoint` needs (unchanged for endpoints that are not small)."""
    if endpoint is None or not is_small(endpoint):
        return options
    return small_model_defaults(options, local=endpoint.kind == "local")
