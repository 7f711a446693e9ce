"""Where roles meet: publish a message, and every role watching its action type receives it.

Owns subscriptions by action type and the history of what was published (roles look up earlier
results there, e.g. the Engineer reads the design when the tasks arrive). Scheduling a role's
reaction is the Team's job; the environment only delivers, synchronously and in publish order.
"""

from __future__ import annotations

from collections.abc import Callable

from polyteam.team.message import TeamMessage

Subscriber = Callable[[TeamMessage], None]


class Environment:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscriber]] = {}
        self.history: list[TeamMessage] = []

    def subscribe(self, action_type: str, subscriber: Subscriber) -> None:
        """Deliver every message caused by `action_type` to `subscriber`."""
        self._subscribers.setdefault(action_type, []).append(subscriber)

    def publish(self, message: TeamMessage) -> None:
        """Record `message` and hand it to each subscriber of its action type."""
        self.history.append(message)
        for subscriber in list(self._subscribers.get(message.cause_by, ())):
            subscriber(message)

    def latest(self, action_type: str) -> TeamMessage | None:
        """The most recent message caused by `action_type`, if any."""
        for message in reversed(self.history):
            if message.cause_by == action_type:
                return message
        return None

    def watchers(self, action_type: str) -> int:
        return len(self._subscribers.get(action_type, ()))
