"""`polyteam ask`: one prompt routed exactly as a Role/Action would be (DESIGN §5).

Loads the configuration, makes one gateway call (retries and fallback included) and prints
the reply, or with `--json` the reply and where it came from. Errors are raised as polyteam
errors; `polyteam.cli.main` prints them as one line and sets the exit status.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from polyteam.errors import UsageError
from polyteam.gateway import Answer, Gateway, RouterLike
from polyteam.providers.base import Message
from polyteam.redact import redact
from polyteam.terminal import json_printable, printable


def check_names(role: str, action: str) -> None:
    """`--role` and `--action` must name a Role and an Action of the team, as `check` requires.

    Raises:
        UsageError: an unknown name (with the closest valid one).
    """
    import difflib

    from polyteam.roster import ACTIONS, ROLES

    for flag, name, valid, kind in (("--role", role, ROLES, "Role"), ("--action", action, ACTIONS, "Action")):
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
            fix = f"did you mean {close[0]}?" if close else f"use one of {', '.join(valid)}"
            shown = printable(name[:60], keep_newlines=False)
            raise UsageError("polyteam ask", flag, f"{shown!r}: unknown {kind}", fix)


async def ask_once(router: RouterLike, role: str, action: str, prompt: str) -> Answer:
    """One gateway call for (role, action); the gateway is closed afterwards.

    Raises: ProviderError, FallbackExhaustedError, BudgetExceededError.
    """
    gateway = Gateway(router)
    try:
        return await gateway.ask(role, action, [Message("user", prompt)])
    finally:
        await gateway.aclose()


def answer_document(answer: Answer) -> dict[str, Any]:
    """The `--json` shape: text, llm, provider, model, base_url, tokens, latency, attempts."""
    endpoint = answer.endpoint
    return {
        "text": redact(answer.completion.text),
        "llm": answer.llm,
        "provider": endpoint.kind,
        "model": endpoint.model,
        "base_url": redact(endpoint.base_url),
        "input_tokens": answer.completion.input_tokens,
        "output_tokens": answer.completion.output_tokens,
        "latency_s": round(answer.latency_s, 4),
        "attempts": answer.attempts,
    }


def run(
    *, prompt: str, role: str, action: str, config_dir: Path | None = None, as_json: bool = False
) -> None:
    """Parse-free entry for the CLI: load settings, ask once, print.

    Raises: ConfigError, and the gateway's errors (see `ask_once`).
    """
    from polyteam.config import load_settings

    check_names(role, action)
    settings = load_settings(config_dir=config_dir)
    answer = asyncio.run(ask_once(settings.router, role, action, prompt))
    if as_json:
        print(json_printable(json.dumps(answer_document(answer), ensure_ascii=False)))
    else:
        print(printable(redact(answer.completion.text)))
