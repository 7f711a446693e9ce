"""Where the real services refuse a request (provider-quirks.md), as the strict emulator refuses it.

This is the emulator's own knowledge of the real services, kept apart from polyteam's provider code on
purpose: the emulator is the oracle the providers are tested against, so it must not read their tables.
Each check returns the wire's error envelope as (status, body) or None; the protocol modules send it.
`polyteam emulate --lenient` (Emulator(strict=False)) skips every check here.
"""

from __future__ import annotations

import re
from typing import Any

#: gpt-5 family and o-series: no max_tokens, no temperature but 1 (also behind a `vendor/` prefix)
_REASONING = re.compile(r"^(?:[\w.-]+/)?(?:gpt-5|o\d)(?:[.\-_]|$)", re.IGNORECASE)
#: names that look like OpenAI's own models; others are taken as an OpenAI-compatible server's models
_OPENAI_LOOKING = re.compile(r"^(?:gpt-|o\d|chatgpt-|text-|davinci|babbage)", re.IGNORECASE)
#: OpenAI chat models the public API serves (dated snapshots `-YYYY-MM-DD` of these too)
OPENAI_MODELS: frozenset[str] = frozenset(
    {
        "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4-turbo", "gpt-4",
        "gpt-3.5-turbo", "chatgpt-4o-latest", "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-5-pro",
        "gpt-5-chat-latest", "o1", "o1-pro", "o3", "o3-mini", "o3-pro", "o4-mini",
        *(f"gpt-5.{n}{suffix}" for n in range(1, 7) for suffix in ("", "-mini", "-nano", "-pro", "-chat-latest")),
    }
)  # fmt: skip
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")

#: Claude ids Anthropic has retired (404 not_found_error): 3.5 Sonnet in 2025-10, Sonnet/Opus 4 on
#: 2026-06-15, Sonnet 4.5 on 2026-11-30
RETIRED_CLAUDE: frozenset[str] = frozenset(
    {
        "claude-3-5-sonnet-20241022", "claude-3-5-sonnet-20240620", "claude-3-5-sonnet-latest",
        "claude-3-opus-20240229", "claude-3-opus-latest", "claude-3-sonnet-20240229", "claude-2.1",
        "claude-2.0", "claude-instant-1.2", "claude-sonnet-4-20250514", "claude-opus-4-20250514",
        "claude-sonnet-4-0", "claude-opus-4-0", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5",
    }
)  # fmt: skip

#: DashScope's Qwen3 hybrid-thinking models: a non-stream call needs enable_thinking: false
_QWEN3 = re.compile(r"(?:^|/)qwen3(?:[.\-_]|$)", re.IGNORECASE)

Refusal = tuple[int, dict[str, Any]]


def is_reasoning(model: str) -> bool:
    return bool(_REASONING.match(model))


def _openai_error(message: str, param: str | None, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


def openai_refusal(body: dict[str, Any], model: str, stream: bool) -> Refusal | None:
    """The real API's 400/404 for this chat completions body, or None when it would answer."""
    if _OPENAI_LOOKING.match(model) and _SNAPSHOT.sub("", model) not in OPENAI_MODELS:
        message = f"The model `{model}` does not exist or you do not have access to it."
        return 404, _openai_error(message, None, "model_not_found")
    if is_reasoning(model):
        if "max_tokens" in body:
            message = (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
            return 400, _openai_error(message, "max_tokens", "unsupported_parameter")
        temperature = body.get("temperature")
        if temperature is not None and temperature != 1:
            message = (
                f"Unsupported value: 'temperature' does not support {temperature} with this model. "
                "Only the default (1) value is supported."
            )
            return 400, _openai_error(message, "temperature", "unsupported_value")
    if _QWEN3.search(model) and not stream and body.get("enable_thinking") is not False:
        error = {
            "code": "invalid_parameter_error",
            "param": None,
            "message": "parameter.enable_thinking must be set to false for non-streaming calls",
            "type": "invalid_request_error",
        }
        return 400, {"error": error, "request_id": "emulated"}
    return None


def anthropic_refusal(model: str) -> Refusal | None:
    """Anthropic's 404 for a retired model, or None."""
    if model in RETIRED_CLAUDE:
        return 404, {"type": "error", "error": {"type": "not_found_error", "message": f"model: {model}"}}
    return None
