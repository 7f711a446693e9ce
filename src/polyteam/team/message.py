"""Typed messages the roles exchange, and the events a run reports to its display.

Owns `TeamMessage` (what a role publishes: the output of one action, tagged with the action type
that caused it) and `RunEvent` (what the team tells an observer: an action started, finished,
was taken from the checkpoint, a file was written or skipped). Delivery is `environment.py`'s job.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Literal

#: the action type of the user's requirement, the message that starts a run
USER_REQUIREMENT = "UserRequirement"

_ids = itertools.count(1)


@dataclass(frozen=True)
class TeamMessage:
    """One published result: `content` is the action's output model (or the requirement text)."""

    cause_by: str  # the action type that produced it: "WritePRD", ..., or USER_REQUIREMENT
    sent_from: str  # the role's name, or "User"
    content: Any
    key: str = ""  # the checkpoint key, e.g. "WriteCode:main.py"
    id: int = field(default_factory=lambda: next(_ids))
    ts: float = field(default_factory=time.time)


EventKind = Literal[
    "start",  # an action was sent to its LLM
    "end",  # an action finished (llm, tokens, calls filled in)
    "cached",  # an action's result came from the checkpoint; no call was made
    "written",  # a file was written (detail: its path in the project)
    "skipped",  # a file a model named was unsafe or could not be written (detail: why)
    "note",  # anything else worth a line (dropped dependencies, review verdicts, project moved)
    "error",  # an action failed; the run is stopping
    "role",  # a role changed state (detail: "idle", "working", "done", "waiting")
]


@dataclass(frozen=True)
class RunEvent:
    kind: EventKind
    role: str
    action: str = ""
    key: str = ""
    llm: str = ""
    detail: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    ts: float = field(default_factory=time.monotonic)
