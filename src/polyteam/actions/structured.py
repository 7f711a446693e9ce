"""Running one action against the gateway until its reply is valid: `run_action`.

Owns the structured-output loop (DESIGN §1): ask the route's LLM with the output model's JSON
schema (the provider sends it only where the endpoint supports it), extract and repair the
JSON, validate it; on failure re-ask the same LLM once with a short account of what was wrong;
then move down the route's fallback chain (`gateway.chain`, `gateway.ask(..., llm=next)`); when
every LLM has failed, raise MalformedReplyError. Also the per-endpoint call options: the token
cap for tiny models and the sampling defaults that keep small local models out of loops.

Retries on provider errors and fallback on provider failures happen inside the gateway; a
provider error (or a budget stop) that reaches this loop is not ours to handle and propagates.
"""

from __future__ import annotations

from typing import Any, Protocol

from polyteam.actions.base import REASK_TEMPLATE, Action, ActionResult
from polyteam.errors import MalformedReplyError, PolyteamError
from polyteam.providers.base import CallOptions, Endpoint, Message

__all__ = ["GatewayLike", "run_action", "call_options"]

#: sampling defaults for small local models (issue: at temperature 0 SmolLM2 loops)
LOCAL_TEMPERATURE = 0.3
LOCAL_EXTRA_BODY = {"repeat_penalty": 1.2}
#: the longest validation message quoted back in a re-ask
_MAX_PROBLEM = 400


class GatewayLike(Protocol):
    """What `run_action` needs of `polyteam.gateway.Gateway` (tests pass a scripted fake)."""

    def chain(self, role: str, action: str) -> list[str]: ...

    async def ask(
        self,
        role: str,
        action: str,
        messages: list[Message],
        options: CallOptions | None = None,
        on_delta: Any = None,
        llm: str | None = None,
    ) -> Any: ...


def call_options(action: Action, endpoint: Endpoint | None) -> CallOptions:
    """The options of one call of `action` on `endpoint` (None: the endpoint is unknown)."""
    tiny = bool(endpoint is not None and endpoint.tiny)
    local = bool(endpoint is not None and endpoint.kind == "local")
    max_tokens = min(action.max_tokens, action.tiny_max_tokens) if tiny else action.max_tokens
    return CallOptions(
        max_tokens=max_tokens,
        temperature=LOCAL_TEMPERATURE if (tiny or local) else None,
        json_schema=action.json_schema(),
        schema_name=action.name,
        extra_body=dict(LOCAL_EXTRA_BODY) if local else {},
    )


def _endpoint_of(gateway: Any, role: str, action: str, llm: str, first: bool) -> Endpoint | None:
    """The endpoint an LLM name resolves to, from the gateway's router (None when unknown)."""
    router = getattr(gateway, "router", None)
    if router is None:
        return None
    try:
        endpoint = router.route(role, action).endpoint if first else router.endpoint(llm)
    except (KeyError, LookupError, NotImplementedError, PolyteamError):
        return None
    return endpoint if isinstance(endpoint, Endpoint) else None


async def run_action(
    gateway: Any,
    role: str,
    action: Action,
    inputs: dict[str, Any],
    *,
    on_delta: Any = None,
) -> ActionResult:
    """Run `action` for `role` until a reply validates against its output model.

    Per LLM of the route's chain: one ask, and on an invalid reply one re-ask with the problem;
    then the next LLM. Token counts, calls, repairs, re-asks and fallbacks are totalled.

    Raises:
        MalformedReplyError: no LLM of the chain gave a valid reply (the message names each problem).
        BudgetExceededError, ProviderError, FallbackExhaustedError: from the gateway, unchanged.
    """
    chain = list(gateway.chain(role, action.name))
    if not chain:
        raise MalformedReplyError(f"{action.name}: the route has no LLM")
    result = ActionResult(output=None, llm="")  # type: ignore[arg-type]
    problems: list[str] = []
    index = 0
    while index < len(chain):
        served = chain[index]
        endpoint = _endpoint_of(gateway, role, action.name, served, first=index == 0)
        messages = action.build_messages(tiny=bool(endpoint and endpoint.tiny), **inputs)
        problem = ""
        for reask in (False, True):
            ask_messages = messages
            if reask:
                ask_messages = [
                    *messages,
                    Message("user", REASK_TEMPLATE.format(problem=problem[:_MAX_PROBLEM])),
                ]
                result.reasks += 1
            answer = await gateway.ask(
                role,
                action.name,
                ask_messages,
                call_options(action, endpoint),
                on_delta=on_delta,
                llm=None if (index == 0 and not reask) else served,
            )
            result.calls += 1
            result.input_tokens += int(answer.completion.input_tokens or 0)
            result.output_tokens += int(answer.completion.output_tokens or 0)
            if answer.llm != served:
                # the gateway fell back past a failing provider: continue the chain from there
                result.fallbacks += 1
                served = answer.llm
                index = chain.index(served) if served in chain else index
                endpoint = getattr(answer, "endpoint", None) or _endpoint_of(
                    gateway, role, action.name, served, first=False
                )
                messages = action.build_messages(tiny=bool(endpoint and endpoint.tiny), **inputs)
            try:
                output, fixes = action.parse(answer.completion.text, inputs)
            except MalformedReplyError as exc:
                problem = str(exc)
                problems.append(f"{served}: {problem}")
                continue
            if fixes:
                result.repairs += 1
                result.fixes.extend(f for f in fixes if f not in result.fixes)
            result.output = output
            result.llm = served
            return result
        index += 1
        if index < len(chain):
            result.fallbacks += 1
    raise MalformedReplyError(f"{action.name}: no valid reply; " + " | ".join(problems[-4:]))
