"""Who is a member of the community, how others see her, and what she may do."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.accounts.models import Role, User
from crm.billing.models import Enrolment
from programs.community.models import CommunityMember, Post
from programs.community.rules import ACCESS_STATUSES, LIMITS, CommunityError, NotAMember


def client_ids():
    """A subquery of the ids of runners who are clients right now."""
    return (
        select(Enrolment.user_id)
        .join(User, User.id == Enrolment.user_id)
        .where(
            Enrolment.status.in_(ACCESS_STATUSES),
            User.role == Role.RUNNER,
            User.active.is_(True),
        )
    )


def coach_ids():
    return select(User.id).where(User.role == Role.COACH)


def is_member(session: Session, user_id: int | None) -> bool:
    """True for the coach and for runners whose enrolment gives access."""
    if user_id is None:
        return False
    user = session.get(User, user_id)
    if user is None or not user.active:
        return False
    if user.role == Role.COACH:
        return True
    return session.scalar(client_ids().where(Enrolment.user_id == user_id).limit(1)) is not None


def members_among(session: Session, user_ids: set[int]) -> set[int]:
    """The members among `user_ids` (one query): the send-time check of community emails."""
    if not user_ids:
        return set()
    return set(
        session.scalars(
            select(User.id).where(
                User.id.in_(user_ids),
                User.active.is_(True),
                (User.role == Role.COACH) | User.id.in_(client_ids()),
            )
        )
    )


def require_member(session: Session, user_id: int) -> User:
    if not is_member(session, user_id):
        raise NotAMember("The community is for enrolled clients.")
    return session.get(User, user_id)


def require_coach(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.role != Role.COACH or not user.active:
        raise NotAMember("Only the coach can do that.")
    return user


def member_settings(session: Session, user_id: int) -> CommunityMember | None:
    return session.get(CommunityMember, user_id)


def needs_display_name(session: Session, user_id: int) -> bool:
    """A runner chooses how others see her before she appears in the community."""
    user = session.get(User, user_id)
    if user is None or user.role != Role.RUNNER:
        return False
    return member_settings(session, user_id) is None


def is_new_member(session: Session, user_id: int) -> bool:
    """A runner who has not posted yet: she gets a word on how the community works."""
    user = session.get(User, user_id)
    if user is None or user.role != Role.RUNNER:
        return False
    return session.scalar(select(Post.id).where(Post.author_id == user_id).limit(1)) is None


def save_settings(
    session: Session,
    user_id: int,
    *,
    display_name: str,
    notify_replies: bool = False,
    weekly_digest: bool = False,
) -> CommunityMember:
    """Set the member's display name and email choices (opt-in: off unless she ticks them).
    Commits."""
    require_member(session, user_id)
    name = " ".join((display_name or "").split())
    if not name:
        raise CommunityError("Choose a name others will see.", "display_name")
    if len(name) > LIMITS["display_name"]:
        raise CommunityError(f"Keep it under {LIMITS['display_name']} characters.", "display_name")
    member = member_settings(session, user_id)
    if member is None:
        member = CommunityMember(user_id=user_id, display_name=name)
        session.add(member)
    member.display_name = name
    member.notify_replies = bool(notify_replies)
    member.weekly_digest = bool(weekly_digest)
    session.commit()
    return member


def display_names(session: Session, user_ids: set[int]) -> dict[int, str]:
    """What the community shows for each user: the chosen name; the coach as "Coach <first>"."""
    names: dict[int, str] = {}
    if not user_ids:
        return names
    chosen = dict(
        session.execute(
            select(CommunityMember.user_id, CommunityMember.display_name).where(
                CommunityMember.user_id.in_(user_ids)
            )
        ).all()
    )
    for user in session.scalars(select(User).where(User.id.in_(user_ids))):
        if user.role == Role.COACH:
            names[user.id] = chosen.get(user.id) or f"Coach {user.first_name or 'Ali'}".strip()
        else:
            names[user.id] = chosen.get(user.id) or "A runner"
    return names


def is_muted(session: Session, user_id: int) -> bool:
    member = member_settings(session, user_id)
    return member is not None and member.muted_at is not None


def require_voice(session: Session, user_id: int) -> User:
    user = require_member(session, user_id)
    if user.role == Role.RUNNER:
        if needs_display_name(session, user_id):
            raise CommunityError("Choose your display name first.", "display_name")
        if is_muted(session, user_id):
            raise CommunityError("The coach has paused your posting for now.")
    return user
