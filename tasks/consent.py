"""Who may get an email: the suppression list (unsubscribes, bounces, complaints, the coach's
blocks) and, for marketing, the person's consent, which the feature that knows her tells the
outbox (`tasks.registry.People`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.forms import normalise_email
from tasks.models import Category, EmailStatus, OutboxEmail, Suppression, SuppressionReason
from tasks.registry import people


def suppression_for(session: Session, email: str) -> Suppression | None:
    return session.scalar(select(Suppression).where(Suppression.email == normalise_email(email)))


def may_send(session: Session, email: str, category: str, lead_id: int | None) -> str | None:
    """Why this email must not go (a reason for last_error), or None when it may."""
    return blocked_reasons(session, [(email, category, lead_id)])[0]


def blocked_reasons(
    session: Session, emails: list[tuple[str, str, int | None]]
) -> list[str | None]:
    """`may_send` for many (email, category, lead id) at once: one query for the suppressions,
    and for marketing the consent of those people in one go; a reason or None per input."""
    if not emails:
        return []
    addresses = {normalise_email(email) for email, _, _ in emails}
    suppressed = {
        s.email: s
        for s in session.scalars(select(Suppression).where(Suppression.email.in_(addresses)))
    }
    marketing = [
        (normalise_email(email), lead_id)
        for email, category, lead_id in emails
        if category == Category.MARKETING
    ]
    consent = dict(
        zip(marketing, people().marketing_consent(session, marketing), strict=True)
        if marketing
        else ()
    )
    reasons: list[str | None] = []
    for email, category, lead_id in emails:
        address = normalise_email(email)
        suppression = suppressed.get(address)
        if suppression is not None and (
            category == Category.MARKETING or suppression.blocks_transactional
        ):
            reasons.append(f"address suppressed ({suppression.reason})")
        elif category == Category.MARKETING and not consent.get((address, lead_id)):
            reasons.append("no marketing consent")
        else:
            reasons.append(None)
    return reasons


def suppress_address(session: Session, email: str, reason: SuppressionReason) -> None:
    """Put an address on the suppression list and cancel what it should no longer get. Commits.

    Unsubscribing stops marketing (consent withdrawn on the lead too); a bounce, a complaint or
    the coach's manual block stops everything."""
    address = normalise_email(email)
    existing = suppression_for(session, address)
    if existing is None:
        session.add(Suppression(email=address, reason=reason))
    elif existing.reason == SuppressionReason.UNSUBSCRIBED and reason != existing.reason:
        existing.reason = reason  # a harder block wins
    people().suppressed(session, address, str(reason))
    blocked = select(OutboxEmail).where(
        OutboxEmail.to_email == address, OutboxEmail.status == EmailStatus.QUEUED
    )
    if reason == SuppressionReason.UNSUBSCRIBED:
        blocked = blocked.where(OutboxEmail.category == Category.MARKETING)
    for row in session.scalars(blocked):
        row.status = EmailStatus.SUPPRESSED
        row.last_error = f"address suppressed ({reason})"
    try:
        session.commit()
    except IntegrityError:  # the same address suppressed concurrently: that is the goal anyway
        session.rollback()
