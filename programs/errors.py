"""The domain errors of the runner's portal and the coach's views: a view turns them into a
message beside the field they name."""

from __future__ import annotations

from collections.abc import Mapping


class PortalError(ValueError):
    """A request the business rules refuse; ``messages`` maps a field (or "") to a sentence."""

    def __init__(self, messages: Mapping[str, str] | str) -> None:
        self.messages = {"": messages} if isinstance(messages, str) else dict(messages)
        super().__init__("; ".join(v for v in self.messages.values()))


class NoPlan(PortalError):
    """The runner has no active plan yet (intake not done)."""

    def __init__(self) -> None:
        super().__init__("Start your intake first: your plan is made from it.")
