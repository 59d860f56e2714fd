"""Community rules shared by its use cases: limits, reactions, milestones, the errors a refused
action raises, and the links its emails carry.

Members are the coach and every runner with an enrolment that gives access (active or past due,
crm.billing's Enrolment.has_access). A former client loses access at once; her posts and
comments are hidden from everyone but the coach, never deleted, until the coach deletes them.
Every service takes the acting user's id and checks it: a view never decides access itself.
"""

from __future__ import annotations

from flask import current_app

from crm.billing.models import EnrolmentStatus

PHOTO_BUCKET = "community"
STORAGE_DOWN = "The photo could not be stored just now, so nothing was posted. Please try again."
LIMITS = {"body": 1000, "comment": 500, "display_name": 40, "reason": 300, "title": 120}
PER_PAGE = 20
# Words, not emoji: not every phone or browser font has the emoji, and words read to everyone.
REACTIONS = {"cheer": "Cheer", "heart": "Love", "strong": "Strong"}
MILESTONES = {
    "first_run": "ran for the first time in the plan",
    "continuous_10": "ran 10 minutes without walking",
    "continuous_20": "ran 20 minutes without walking",
    "continuous_30": "ran 30 minutes without walking",
    "race_finished": "finished her race",
}
# Milestones that happen once in a plan: sharing again returns the first post.
ONCE_ONLY = {"first_run", "continuous_10", "continuous_20", "continuous_30"}
ACCESS_STATUSES = (EnrolmentStatus.ACTIVE, EnrolmentStatus.PAST_DUE)


class CommunityError(ValueError):
    """A refused community action; `field` names the form field when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAMember(CommunityError):
    """The user may not use the community (not a client, or no longer one)."""


class NotFound(CommunityError):
    """No such post or comment — or one the user may not see (the same answer, on purpose)."""


def checked_text(value: str, limit: int, field_name: str, empty: str) -> str:
    text = (value or "").strip()
    if not text:
        raise CommunityError(empty, field_name)
    if len(text) > limit:
        raise CommunityError(f"Keep it under {limit} characters.", field_name)
    return text


def page_url(path: str) -> str:
    # Emails are also built by Celery tasks, outside any request: paths are spelled out here and
    # must match the routes in programs/community/routes.py.
    return current_app.config["BASE_URL"] + path
