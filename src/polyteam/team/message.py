"""Typed messages the roles exchange, and the events a run reports to its display.

Owns `TeamMessage` (what a role publishes: the output of one action, tagged with the name of the
action class that caused it), `UserRequirement` (the cause of the first message) and `RunEvent` (what the team tells an observer: an action started, finished,
was taken from the checkpoint, a file was written or skipped). Delivery is `environment.py`'s job.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from polyteam.actions.base import Action


class UserRequirement:
    """The cause of the message that starts a run: the user's requirement (no LLM call).

    A role watches it as it watches an Action class (the ProductManager does).
    """

    name: ClassVar[str] = "UserRequirement"


#: what a message can be caused by, hence what a role can watch: an Action class or the requirement
Cause = type["Action"] | type[UserRequirement]

#: the `cause_by` of the user's requirement
USER_REQUIREMENT = UserRequirement.name

_ids = itertools.count(1)


@dataclass(frozen=True)
class TeamMessage:
    """One published result: `content` is the action's output model (or the requirement text)."""

    cause_by: str  # the `name` of the Cause that produced it: "WritePRD", ..., or USER_REQUIREMENT
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
