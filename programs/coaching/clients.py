"""Who the client emails go to, and the local-time arithmetic they need.

An active client is a runner account that is active, has an active plan, and whose enrolment
(when she has one) is active or past due: a paused or ended enrolment stops the automation. A
client with no enrolment at all (added by the coach) counts as active while she has a plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from crm.accounts.models import Role, User
from crm.billing.models import Enrolment, EnrolmentStatus
from crm.leads.models import Lead
from crm.leads.services import find_lead, record_event
from programs.models import PlanRecord, RunnerProfile


def _active_conditions():
    has_plan = exists().where(PlanRecord.user_id == User.id, PlanRecord.active.is_(True))
    any_enrolment = exists().where(Enrolment.user_id == User.id)
    live_enrolment = exists().where(
        Enrolment.user_id == User.id,
        Enrolment.status.in_((EnrolmentStatus.ACTIVE, EnrolmentStatus.PAST_DUE)),
    )
    return and_(
        User.role == Role.RUNNER,
        User.active.is_(True),
        has_plan,
        or_(not_(any_enrolment), live_enrolment),
    )


def client_timezone_column():
    """The zone the runner gave at intake, else her account's."""
    return func.coalesce(RunnerProfile.timezone, User.timezone)


def active_client_zones(session: Session) -> list[str]:
    """The distinct time zones of the active clients (a handful, whatever the client count)."""
    tz = client_timezone_column()
    rows = session.scalars(
        select(tz)
        .select_from(User)
        .outerjoin(RunnerProfile, RunnerProfile.user_id == User.id)
        .where(_active_conditions())
        .distinct()
    )
    return [name for name in rows if name]


def active_clients(
    session: Session, zones: list[str] | None = None, *, coaching_emails: bool = False
) -> Iterator[tuple[User, str]]:
    """(user, time zone) of every active client, optionally only those in `zones`, and with
    `coaching_emails` only those who want the check-ins and training nudges by email."""
    tz = client_timezone_column()
    stmt = (
        select(User, tz)
        .outerjoin(RunnerProfile, RunnerProfile.user_id == User.id)
        .where(_active_conditions())
        .order_by(User.id)
    )
    if zones is not None:
        stmt = stmt.where(tz.in_(zones))
    if coaching_emails:
        stmt = stmt.where(User.coaching_emails.is_(True))
    yield from ((user, name) for user, name in session.execute(stmt))


def is_active_client(session: Session, user_id: int) -> bool:
    return bool(
        session.scalar(
            select(func.count()).select_from(User).where(User.id == user_id, _active_conditions())
        )
    )


def client_lead(session: Session, user: User):
    """The lead this runner came from (linked by user id, else by email), or None."""
    lead = session.scalar(select(Lead).where(Lead.user_id == user.id).limit(1))
    return lead or find_lead(session, user.email)


def automation_paused(session: Session, user: User) -> bool:
    """The coach paused the automatic emails on this client's lead."""
    lead = client_lead(session, user)
    return bool(lead is not None and lead.automation_paused)


def client_leads(session: Session, users: list[User]) -> dict[int, int]:
    """{user id: lead id} for many runners in two queries (by user id, else by email)."""
    if not users:
        return {}
    ids = [u.id for u in users]
    found = dict(session.execute(select(Lead.user_id, Lead.id).where(Lead.user_id.in_(ids))).all())
    missing = {u.email.lower(): u.id for u in users if u.id not in found}
    if missing:
        for email, lead_id in session.execute(
            select(Lead.email, Lead.id).where(Lead.email.in_(list(missing)))
        ):
            found[missing[email]] = lead_id
    return found


# --- her choice: check-ins and training nudges by email ----------------------------------------


def _coaching_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="coaching-emails")


def coaching_off_url(user_id: int, base_url: str | None = None) -> str:
    """The signed link in each check-in and nudge that turns them off (no sign-in needed)."""
    token = _coaching_serializer().dumps(user_id)
    return f"{base_url or current_app.config['BASE_URL']}/emails/coaching/{token}"


def read_coaching_token(token: str) -> int | None:
    try:
        user_id = _coaching_serializer().loads(token)
    except BadSignature:
        return None
    return user_id if isinstance(user_id, int) else None


def coaching_email_fields(user_id: int, base_url: str | None = None) -> dict[str, Any]:
    """What a check-in or nudge carries so she can stop them in one click: the link for the
    footer (`coaching_off_url` in the context) and RFC 8058 one-click headers for her mail app."""
    url = coaching_off_url(user_id, base_url)
    return {
        "context": {"coaching_off_url": url},
        "headers": {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }


def set_coaching_emails(session: Session, user: User, wanted: bool) -> bool:
    """Turn her check-in and nudge emails on or off, and say so on her lead's timeline for the
    coach. Returns whether anything changed. Does not commit."""
    if user.coaching_emails == wanted:
        return False
    user.coaching_emails = wanted
    lead = client_lead(session, user)
    if lead is not None:
        summary = "Turned on" if wanted else "Turned off"
        record_event(session, lead, "coaching_emails", f"{summary} check-in and nudge emails")
    return True


# --- the send-time check: an active client who wants these emails -----------------------------


def client_automation(session: Session, user_id: int) -> bool:
    """She is an active client who wants the coaching emails, and the coach has not paused her
    automation."""
    user = session.get(User, user_id)
    return (
        user is not None
        and user.coaching_emails
        and is_active_client(session, user_id)
        and not automation_paused(session, user)
    )


def client_automation_many(session: Session, user_ids: set[int]) -> set[int]:
    """The users among `user_ids` for whom `client_automation` holds, in three queries."""
    users = list(
        session.scalars(
            select(User).where(
                User.id.in_(user_ids), User.coaching_emails.is_(True), _active_conditions()
            )
        )
    )
    leads = client_leads(session, users)
    paused: set[int] = set()
    if leads:
        paused = set(
            session.scalars(
                select(Lead.id).where(
                    Lead.id.in_(set(leads.values())), Lead.automation_paused.is_(True)
                )
            )
        )
    return {u.id for u in users if leads.get(u.id) not in paused}
