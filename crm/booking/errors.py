"""The booking's domain errors: the pages and the API turn each into a message."""

from __future__ import annotations


class BookingError(Exception):
    """A domain error about a booking, with a message fit to show the visitor."""

    field: str | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field


class BookingInvalid(BookingError):
    """Input the booking rules refuse: `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class SlotTaken(BookingError):
    """Someone else holds that time (the database's unique slot refused the insert)."""

    field = "slot_start"

    def __init__(
        self, message: str = "Sorry, that time was just taken. Please pick another."
    ) -> None:
        super().__init__(message)


class InvalidToken(BookingError):
    """A manage link that is tampered with, unknown or expired."""


class AvailabilityError(Exception):
    """The coach's availability form breaks a rule: `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
