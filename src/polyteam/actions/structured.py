"""Running one action until its reply is valid: `run_action`, and the per-LLM `StructuredStage`.

Owns the structured-output stage (DESIGN §1), one LLM's whole turn: ask with the output model's
JSON schema (the provider sends it only where the endpoint supports it), extract candidates,
validate, run the gates; on failure re-ask the same LLM once with a short account of what was
wrong, then raise MalformedReplyError. The stage runs *inside* the gateway's one fallback
(`Gateway.ask_structured`), which walks the route's chain for provider errors and for replies
that stay invalid alike. When every LLM of the chain answered but none validly, the action's
simpler format is asked for (`Action.degrade`), else built from the inputs (`Action.last_resort`);
the result is marked degraded. Only when no LLM answers at all does the error propagate.
Also the per-endpoint call options: the token cap for tiny models, and the small-model sampling
of `polyteam.providers.sampling`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from polyteam import telemetry
from polyteam.actions.base import REASK_TEMPLATE, Action, ActionInput, ActionResult, OutputModel
from polyteam.actions.gates import GateError
from polyteam.errors import FallbackExhaustedError, MalformedReplyError, PolyteamError, ProviderError
from polyteam.providers.base import CallOptions, Completion, Endpoint, Message, Provider
from polyteam.providers.sampling import sampling_for

__all__ = ["GatewayLike", "StructuredStage", "Tally", "call_options", "run_action"]

#: the longest validation message quoted back in a re-ask
_MAX_PROBLEM = 400


class GatewayLike(Protocol):
    """What `run_action` needs of `polyteam.gateway.Gateway`."""

    async def ask_structured(self, role: str, action: str, stage: Any, llm: str | None = None) -> Any: ...


def call_options(action: Action, endpoint: Endpoint | None, inputs: Any = None) -> CallOptions:
    """The options of one call of `action` on `endpoint` (None: the endpoint is unknown)."""
    tiny = bool(endpoint is not None and endpoint.tiny)
    max_tokens = min(action.max_tokens, action.tiny_max_tokens) if tiny else action.max_tokens
    schema = None if tiny and action.plain_when_tiny else action.json_schema(inputs)
    options = CallOptions(max_tokens=max_tokens, json_schema=schema, schema_name=action.name)
    return sampling_for(options, endpoint)


@dataclass
class Tally:
    """What one action's asks took, over every LLM and stage (folded into its ActionResult)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    repairs: int = 0
    reasks: int = 0
    gate_failures: int = 0
    llms: list[str] = field(default_factory=list)  # each LLM asked, in order (a stage per entry)
    fixes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    by_llm: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, llm: str, name: str) -> None:
        per = self.by_llm.setdefault(llm, {"calls": 0, "repairs": 0, "reasks": 0, "gate_failures": 0})
        per[name] = per.get(name, 0) + 1
        setattr(self, name, getattr(self, name) + 1)

    def add(self, llm: str, completion: Completion) -> None:
        self.count(llm, "calls")
        self.input_tokens += int(completion.input_tokens or 0)
        self.output_tokens += int(completion.output_tokens or 0)

    def result(self, output: OutputModel, llm: str, *, degraded: bool = False) -> ActionResult:
        return ActionResult(
            output=output,
            llm=llm,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            calls=self.calls,
            repairs=self.repairs,
            reasks=self.reasks,
            fallbacks=max(0, len(dict.fromkeys(self.llms)) - 1),
            gate_failures=self.gate_failures,
            degraded=degraded,
            fixes=list(self.fixes),
            by_llm={k: dict(v) for k, v in self.by_llm.items()},
        )


@dataclass
class Accepted:
    output: OutputModel
    llm: str


class StructuredStage:
    """One LLM's turn at `action`: ask, validate, gate, re-ask once (`degraded`: the simpler format, once)."""

    def __init__(
        self, action: Action, inputs: Any, tally: Tally, *, on_delta: Any = None, degraded: bool = False
    ) -> None:
        self.action = action
        self.inputs = inputs
        self.tally = tally
        self.on_delta = on_delta
        self.degraded = degraded

    async def run(self, provider: Provider) -> Accepted:
        """Raises: MalformedReplyError (GateError) when the replies stayed invalid; ProviderError."""
        endpoint = provider.endpoint
        llm, tiny, action = endpoint.llm, bool(endpoint.tiny), self.action
        self.tally.llms.append(llm)
        if self.degraded:
            messages = action.degrade(self.inputs, tiny=tiny) or []
            options = dataclasses.replace(call_options(action, endpoint), json_schema=None)
            completion = await self._ask(provider, messages, options)
            self.tally.add(llm, completion)
            try:
                return Accepted(action.parse_degraded(completion.text, self.inputs), llm)
            except MalformedReplyError as exc:
                self.tally.problems.append(f"{llm} (simpler format): {exc}")
                raise
        messages = action.build_messages(self.inputs, tiny=tiny)
        options = call_options(action, endpoint, self.inputs)
        problem = ""
        for reask in (False, True):
            asked = messages
            if reask:
                asked = [*messages, Message("user", REASK_TEMPLATE.format(problem=problem[:_MAX_PROBLEM]))]
                self.tally.count(llm, "reasks")
            completion = await self._ask(provider, asked, options)
            self.tally.add(llm, completion)
            try:
                output, fixes = action.parse(completion.text, self.inputs)
            except MalformedReplyError as exc:
                problem = str(exc)
                if isinstance(exc, GateError):
                    self.tally.count(llm, "gate_failures")
                self.tally.problems.append(f"{llm}: {problem}")
                then = f"giving up on {llm}" if reask else "re-asking"
                telemetry.decision(
                    "gate" if isinstance(exc, GateError) else "invalid", f"{llm}: {problem}; {then}"
                )
                continue
            if fixes:
                telemetry.decision("repair", f"{llm}: " + "; ".join(fixes))
                self.tally.count(llm, "repairs")
                self.tally.fixes.extend(f for f in fixes if f not in self.tally.fixes)
            return Accepted(output, llm)
        raise MalformedReplyError(f"{llm}: {problem}")

    async def _ask(self, provider: Provider, messages: list[Message], options: CallOptions) -> Completion:
        if self.on_delta is None:
            return await provider.complete(messages, options)
        completion: Completion | None = None
        async with contextlib.aclosing(provider.stream(messages, options)) as items:
            async for item in items:
                if isinstance(item, Completion):
                    completion = item
                    continue
                result = self.on_delta(item.text)
                if inspect.isawaitable(result):
                    await result
        if completion is None:
            raise MalformedReplyError(f"{provider.endpoint.llm}: the stream ended without a reply")
        return completion


def _any_answered(exc: PolyteamError) -> bool:
    """Whether some LLM of the chain answered (its reply stayed invalid) rather than none at all."""
    errors = exc.errors if isinstance(exc, FallbackExhaustedError) else [exc]
    return any(isinstance(e, MalformedReplyError) for e in errors)


async def run_action(
    gateway: Any,
    role: str,
    action: Action,
    inputs: ActionInput | Mapping[str, Any],
    *,
    on_delta: Any = None,
) -> ActionResult:
    """Run `action` for `role` until a reply validates and passes the gates.

    Per LLM of the route's chain (the gateway's fallback): one ask and, on an invalid reply, one
    re-ask. When every LLM answered invalidly: the simpler format, then the last resort (degraded).

    Raises:
        MalformedReplyError: every LLM answered invalidly and the action has no simpler format.
        BudgetExceededError, ProviderError, FallbackExhaustedError: no LLM answered at all.
    """
    typed = action.inputs(inputs)
    tally = Tally()
    try:
        got = await gateway.ask_structured(
            role, action.name, StructuredStage(action, typed, tally, on_delta=on_delta)
        )
    except (MalformedReplyError, FallbackExhaustedError) as exc:
        if not _any_answered(exc):
            raise
        return await _degrade(gateway, role, action, typed, tally, exc)
    return tally.result(got.output, got.llm)


async def _degrade(
    gateway: Any, role: str, action: Action, inputs: Any, tally: Tally, cause: PolyteamError
) -> ActionResult:
    """The simpler format from the chain, else the last resort; MalformedReplyError when neither."""
    if action.degrade(inputs) is not None:
        try:
            got = await gateway.ask_structured(
                role, action.name, StructuredStage(action, inputs, tally, degraded=True)
            )
        except (MalformedReplyError, FallbackExhaustedError, ProviderError):
            pass  # an LLM answered before: the last resort still stands in
        else:
            tally.fixes.append(f"degraded: {action.name} in its simpler format")
            return tally.result(got.output, got.llm, degraded=True)
    output = action.last_resort(inputs)
    if output is None:
        raise MalformedReplyError(
            f"{action.name}: no valid reply; " + " | ".join(tally.problems[-4:])
        ) from cause
    tally.fixes.append(f"degraded: {action.name} built from its inputs, not from a reply")
    return tally.result(output, tally.llms[-1] if tally.llms else "", degraded=True)
