"""Fault injection for the emulator: the `--faults` spec, its rules and their counters.

A spec is comma-separated rules `KIND[:COUNT][@MATCH]` (docs/emulator.md):
- KIND: one of `KINDS` (`ws-close` is accepted for `wsclose`);
- COUNT: how many matching requests get the fault: `N` (default 1), `*` (all), or `P%` (each matching
  request with probability P, drawn from a seeded generator so runs repeat);
- MATCH: a protocol name, a model name or a tag prefix (default: any request).

Rules apply in order: a request gets the fault of the first rule that matches it and still has count left.
What each kind looks like on each wire is decided by the protocol modules, not here. The plan is used
from one event loop; a lock keeps it safe when a test thread edits it while the loop runs.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

#: the contract's kinds first, then this emulator's additions (docs/emulator.md)
KINDS = (
    "429",
    "500",
    "503",
    "529",
    "quota",
    "auth",
    "timeout",
    "truncate",
    "malformed",
    "wsclose",
    "400",
    "midstream",
    "filter",
    "context",
)
ALIASES = {"ws-close": "wsclose", "ws_close": "wsclose", "rate": "429", "overloaded": "529"}
#: kinds answered with an error instead of a reply
ERROR_KINDS = frozenset({"400", "429", "500", "503", "529", "quota", "auth", "filter", "context"})


class FaultSpecError(ValueError):
    """A `--faults` spec that cannot be parsed; the message names the rule and the fix."""


@dataclass
class FaultRule:
    """One rule: `kind` for `remaining` more matching requests (None: all; or a probability)."""

    kind: str
    remaining: int | None = 1
    probability: float | None = None
    match: str | None = None
    hits: int = 0

    def matches(self, protocol: str, model: str | None, tag: str | None) -> bool:
        """True when MATCH is empty, the protocol, the model, or a prefix of the tag."""
        if self.match is None:
            return True
        return self.match in (protocol, model) or bool(tag and tag.startswith(self.match))

    def spec(self) -> str:
        """The rule written back in spec syntax."""
        if self.probability is not None:
            count = f":{self.probability * 100:g}%"
        elif self.remaining is None:
            count = ":*"
        else:
            count = f":{self.remaining}"
        return f"{self.kind}{count}" + (f"@{self.match}" if self.match else "")


def parse_rule(text: str) -> FaultRule:
    """Parse one `KIND[:COUNT][@MATCH]` rule.

    Raises:
        FaultSpecError: unknown kind, bad count or empty match.
    """
    raw = text.strip()
    head, sep, match = raw.partition("@")
    if sep and not match.strip():
        raise FaultSpecError(f"--faults: rule {raw!r}: empty MATCH after '@'; write e.g. 429@openai")
    kind_text, sep, count_text = head.partition(":")
    kind = ALIASES.get(kind_text.strip().lower(), kind_text.strip().lower())
    if kind not in KINDS:
        raise FaultSpecError(
            f"--faults: rule {raw!r}: unknown kind {kind_text.strip()!r}; use one of {', '.join(KINDS)}"
        )
    rule = FaultRule(kind=kind, match=match.strip() or None)
    count_text = count_text.strip()
    if not sep:
        return rule
    if count_text == "*":
        rule.remaining = None
    elif count_text.endswith("%"):
        try:
            pct = float(count_text[:-1])
        except ValueError:
            pct = -1.0
        if not 0 < pct <= 100:
            raise FaultSpecError(
                f"--faults: rule {raw!r}: bad percentage {count_text!r}; use 0 < P <= 100, e.g. 500:10%"
            )
        rule.remaining, rule.probability = None, pct / 100
    elif count_text.isdigit() and int(count_text) > 0:
        rule.remaining = int(count_text)
    else:
        raise FaultSpecError(
            f"--faults: rule {raw!r}: bad COUNT {count_text!r}; use a positive number, '*' or 'P%'"
        )
    return rule


def parse_faults(spec: str | None) -> list[FaultRule]:
    """Parse a whole comma-separated spec (None or blank: no rules).

    Raises:
        FaultSpecError: for the first bad rule.
    """
    if not spec or not spec.strip():
        return []
    return [parse_rule(part) for part in spec.split(",") if part.strip()]


@dataclass
class FaultPlan:
    """The rules in order, with their counters; `pick` consumes one hit of the first applicable rule."""

    rules: list[FaultRule] = field(default_factory=list)
    seed: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)

    @classmethod
    def coerce(cls, faults: str | FaultPlan | Iterable[FaultRule] | None, seed: int = 0) -> FaultPlan:
        """A plan from a spec string, a list of rules, an existing plan, or None."""
        if isinstance(faults, FaultPlan):
            return faults
        if faults is None or isinstance(faults, str):
            return cls(parse_faults(faults), seed)
        return cls(list(faults), seed)

    def replace(self, faults: str | Iterable[FaultRule] | None) -> None:
        """Swap in new rules (counters start afresh)."""
        rules = parse_faults(faults) if faults is None or isinstance(faults, str) else list(faults)
        with self._lock:
            self.rules = rules

    def pick(
        self,
        protocol: str,
        model: str | None,
        tag: str | None,
        *,
        only: frozenset[str] | None = None,
    ) -> str | None:
        """The fault kind for this request (consuming one hit), or None.

        With `only`, the first applicable rule is consumed only if its kind is in `only`
        (Spark decides `auth` at the handshake, before the tag is known).
        """
        with self._lock:
            for rule in self.rules:
                if rule.remaining == 0 or not rule.matches(protocol, model, tag):
                    continue
                if only is not None and rule.kind not in only:
                    return None
                if rule.probability is not None and self._random.random() >= rule.probability:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.hits += 1
                return rule.kind
        return None

    def spec(self) -> str:
        """The remaining rules written back in spec syntax."""
        with self._lock:
            return ",".join(rule.spec() for rule in self.rules if rule.remaining != 0)
