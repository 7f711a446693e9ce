"""The wrappers that see every attempt: the budget meter and ledger (`MeteredProvider`), spans and the run log (`InstrumentedProvider`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from polyteam.attempts import AttemptScope, CostFn
from polyteam.calls import _CALL, AttemptObserver, AttemptRecord, AttemptStart, Meter, _Call
from polyteam.errors import (
    ProviderError,
)
from polyteam.providers.base import (
    CallOptions,
    Completion,
    Message,
    Provider,
    Stream,
)
from polyteam.usage import clamp_count, json_safe, prompt_token_bound, utf8_len
from polyteam.wrappers import WrapperProvider


class MeteredProvider(WrapperProvider):
    """Checks the budget before each attempt and records each attempt after it, ok or not.

    The reservation is the worst case: `prompt_token_bound` input tokens (true for every
    tokenizer) plus `max_tokens`. The usage recorded (and returned) is the server's report clamped
    to those bounds (`polyteam.usage`); an attempt abandoned in flight (cancelled) or ended by an
    error that is not a ProviderError, or a reply the server sent that we could not read
    (`UnreadableReplyError`: bad UTF-8 or usage), is charged at its reservation,
    and a stream cut short at the bytes it delivered, since the provider may bill them.
    """

    def __init__(
        self, inner: Provider, meter: Meter | None = None, on_attempt: AttemptObserver | None = None
    ) -> None:
        super().__init__(inner)
        self._meter = meter
        self._on_attempt = on_attempt
        self._standalone = _Call()

    def _start(self, messages: list[Message], options: CallOptions) -> tuple[_Call, _Attempt]:
        # outside Gateway.ask (a stack used on its own) attempts count over the wrapper's life
        call = _CALL.get() or self._standalone
        attempt = _Attempt(
            AttemptStart(
                role=call.role,
                action=call.action,
                call_id=call.call_id,
                attempt_id=uuid.uuid4().hex[:16],
                attempt=call.attempts + 1,
                input_bound=prompt_token_bound(messages, options, schema_sent=self.endpoint.json_schema),
                max_tokens=max(0, int(options.max_tokens)),
            )
        )
        if self._meter is not None:
            # raises BudgetExceededError: the attempt is not made, nothing else is tried
            attempt.reserved = self._meter.reserve(
                self.endpoint, attempt.start.input_bound, attempt.start.max_tokens, attempt.start
            )
        call.attempts += 1
        return call, attempt

    def _charge(
        self, attempt: _Attempt, completion: Completion | None, error: BaseException | None
    ) -> tuple[int, int, str, tuple[Any, Any] | None]:
        """(input, output, how charged, the out-of-range report) for the ledger."""
        start = attempt.start
        if completion is not None and error is None:
            n_in, bad_in = clamp_count(completion.input_tokens, start.input_bound)
            n_out, bad_out = clamp_count(completion.output_tokens, start.max_tokens)
            if bad_in or bad_out:
                reported = (json_safe(completion.input_tokens), json_safe(completion.output_tokens))
                return n_in, n_out, "clamped", reported
            return n_in, n_out, "reported", None
        if error is not None and (not isinstance(error, ProviderError) or error.billed):
            # cancelled in flight, or a reply the server sent that we could not read (bad UTF-8,
            # a bad usage type): the server may have billed it in full
            return start.input_bound, start.max_tokens, "reservation", None
        if attempt.streamed_bytes:
            return start.input_bound, min(start.max_tokens, attempt.streamed_bytes), "estimated", None
        return 0, 0, "reported", None

    def _finish(
        self,
        call: _Call,
        attempt: _Attempt,
        completion: Completion | None,
        error: BaseException | None = None,
    ) -> Completion | None:
        endpoint = self.endpoint
        if error is None:
            kind = None
        elif isinstance(error, ProviderError):
            kind = error.kind
        elif isinstance(error, asyncio.CancelledError | GeneratorExit):
            kind = "cancelled"
        else:
            kind = type(error).__name__
        n_in, n_out, charged, reported = self._charge(attempt, completion, error)
        record = AttemptRecord(
            ts=attempt.ts,
            role=call.role,
            action=call.action,
            llm=endpoint.llm,
            provider=endpoint.kind,
            model=endpoint.model,
            base_url=endpoint.base_url,
            attempt=attempt.start.attempt,
            ok=completion is not None and error is None,
            error=kind,
            input_tokens=n_in,
            output_tokens=n_out,
            latency_s=time.perf_counter() - attempt.started,
            estimated=(completion.estimated if completion else False) or charged == "estimated",
            call_id=call.call_id,
            endpoint=endpoint,
            request_id=completion.request_id if completion else getattr(error, "request_id", None),
            finish_reason=completion.finish_reason if completion else None,
            attempt_id=attempt.start.attempt_id,
            reported_usage=reported,
            charged=charged,
        )
        if record.ok:
            call.answered_by = endpoint
        if self._meter is not None:
            self._meter.record(record, attempt.reserved)
        for observer in (*call.observers, *((self._on_attempt,) if self._on_attempt else ())):
            observer(record)
        if completion is not None and charged == "clamped":
            return dataclasses.replace(completion, input_tokens=n_in, output_tokens=n_out)
        return completion

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        call, attempt = self._start(messages, options)
        try:
            completion = await self.inner.complete(messages, options)
        except BaseException as exc:  # recorded (the reservation is released), then re-raised
            self._finish(call, attempt, None, exc)
            raise
        return self._finish(call, attempt, completion) or completion

    async def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        call, attempt = self._start(messages, options)
        completion: Completion | None = None
        try:
            async with contextlib.aclosing(self.inner.stream(messages, options)) as items:
                async for item in items:
                    if isinstance(item, Completion):
                        completion = item
                        continue
                    attempt.streamed_bytes += utf8_len(item.text)
                    yield item
        except BaseException as exc:  # recorded, then re-raised
            self._finish(call, attempt, None, exc)
            raise
        if completion is None:
            self._finish(call, attempt, None, None)
            return
        done = self._finish(call, attempt, completion) or completion
        yield done  # after recording: a consumer that stops at the Completion leaves nothing unrecorded


@dataclass
class _Attempt:
    start: AttemptStart
    reserved: float = 0.0
    ts: float = field(default_factory=time.time)
    started: float = field(default_factory=time.perf_counter)
    streamed_bytes: int = 0


class InstrumentedProvider(WrapperProvider):
    """Observes each attempt: a GenAI `chat` span, a run-log line, the captured call (`polyteam.attempts`).

    Sits between the retry layer and the meter, so it sees every attempt the ledger records, in
    the same order, with the same tokens; with no tracer, no log level and no capture it costs
    one object per attempt.
    """

    def __init__(self, inner: Provider, cost: CostFn | None = None) -> None:
        super().__init__(inner)
        self._cost = cost

    async def complete(self, messages: list[Message], options: CallOptions) -> Completion:
        scope = AttemptScope(self.endpoint, messages, options, _CALL.get(), self._cost)
        scope.begin()
        try:
            if scope.span is None:  # no tracer: no context to switch
                completion = await self.inner.complete(messages, options)
            else:
                with scope.active():
                    completion = await self.inner.complete(messages, options)
        except BaseException as exc:
            scope.end(None, exc)
            raise
        scope.end(completion)
        return completion

    async def stream(self, messages: list[Message], options: CallOptions) -> Stream:
        # the span is never current here: a context attached in a generator may be left in another
        scope = AttemptScope(self.endpoint, messages, options, _CALL.get(), self._cost)
        scope.begin()
        completion: Completion | None = None
        try:
            async with contextlib.aclosing(self.inner.stream(messages, options)) as items:
                async for item in items:
                    if isinstance(item, Completion):
                        completion = item
                    yield item
        except BaseException as exc:
            done = completion is not None and isinstance(exc, GeneratorExit)
            scope.end(completion, None if done else exc)
            raise
        scope.end(completion)
