"""Where roles meet: publish a message, and every role watching its cause receives it.

Owns subscriptions by cause (an Action class, or `UserRequirement`) and the history of what was
published (roles look up earlier results there, e.g. the Engineer reads the design when the tasks
arrive). Scheduling a role's reaction is the Team's job; the environment only delivers,
synchronously and in publish order.
"""

from __future__ import annotations

from collections.abc import Callable

from polyteam.team.message import Cause, TeamMessage

Subscriber = Callable[[TeamMessage], None]


class Environment:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscriber]] = {}
        self.history: list[TeamMessage] = []

    def subscribe(self, cause: Cause, subscriber: Subscriber) -> None:
        """Deliver every message caused by `cause` to `subscriber`."""
        self._subscribers.setdefault(cause.name, []).append(subscriber)

    def publish(self, message: TeamMessage) -> None:
        """Record `message` and hand it to each subscriber of its cause."""
        self.history.append(message)
        for subscriber in list(self._subscribers.get(message.cause_by, ())):
            subscriber(message)

    def latest(self, cause: Cause) -> TeamMessage | None:
        """The most recent message caused by `cause`, if any."""
        for message in reversed(self.history):
            if message.cause_by == cause.name:
                return message
        return None
