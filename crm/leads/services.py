"""Lead rules shared by booking, the CRM pages, the API, CSV import and the tasks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.leads.models import Lead, LeadEvent, Stage


class LeadError(Exception):
    """A domain error about a lead, with a message fit to show the coach."""


# Where a lead may go from each stage. "lost" can be reopened to "new".
ALLOWED_MOVES: dict[Stage, set[Stage]] = {
    Stage.NEW: {Stage.CALL_BOOKED, Stage.OFFER_SENT, Stage.ENROLLED, Stage.LOST},
    Stage.CALL_BOOKED: {Stage.NEW, Stage.CALL_HELD, Stage.OFFER_SENT, Stage.ENROLLED, Stage.LOST},
    Stage.CALL_HELD: {Stage.CALL_BOOKED, Stage.OFFER_SENT, Stage.ENROLLED, Stage.LOST},
    Stage.OFFER_SENT: {Stage.CALL_HELD, Stage.CALL_BOOKED, Stage.ENROLLED, Stage.LOST},
    Stage.ENROLLED: {Stage.LOST},
    Stage.LOST: {Stage.NEW, Stage.CALL_BOOKED},
}


def normalise_email(email: str) -> str:
    return email.strip().lower()


def record_event(
    session: Session,
    lead: Lead,
    kind: str,
    summary: str,
    data: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> LeadEvent:
    """Add an entry to the lead's timeline (in the caller's transaction; does not commit)."""
    event = LeadEvent(lead=lead, kind=kind, summary=summary[:300], data=data or {}, actor_id=actor_id)
    session.add(event)
    return event


def find_lead(session: Session, email: str) -> Lead | None:
    return session.scalar(select(Lead).where(Lead.email == normalise_email(email)))


def upsert_lead(session: Session, *, email: str, name: str, **fields: Any) -> tuple[Lead, bool]:
    """The lead for this email, created or updated with the non-empty fields given.

    Returns (lead, created). First-touch attribution (`source`, `utm`) is kept from the first
    visit; marketing consent is only ever granted here, never silently withdrawn. Does not commit.
    """
    lead = find_lead(session, email)
    created = lead is None
    if created:
        lead = Lead(email=normalise_email(email), name=name.strip(), stage=Stage.NEW)
        session.add(lead)
    else:
        lead.name = name.strip() or lead.name
    for key, value in fields.items():
        if value in (None, "", {}):
            continue
        if not created and key in {"source", "utm"}:
            continue
        if key == "marketing_consent" and not value:
            continue
        setattr(lead, key, value)
    if created:
        session.flush()
        record_event(session, lead, "created", f"Lead created ({lead.source})")
    return lead, created


def change_stage(
    session: Session,
    lead: Lead,
    stage: Stage,
    *,
    lost_reason: str = "",
    actor_id: int | None = None,
    force: bool = False,
) -> None:
    """Move a lead to another pipeline stage and put it on the timeline (does not commit).

    Raises LeadError for a move the pipeline does not allow, or "lost" without a reason.
    `force` is for system moves (payment, booking) that are always right.
    """
    stage = Stage(stage)
    if stage == lead.stage:
        return
    if not force and stage not in ALLOWED_MOVES[lead.stage]:
        raise LeadError(f"A lead can't move from {lead.stage.label} to {stage.label}.")
    if stage == Stage.LOST and not lost_reason.strip():
        raise LeadError("Say why the lead was lost.")
    previous = lead.stage
    lead.stage = stage
    lead.lost_reason = lost_reason.strip() if stage == Stage.LOST else ""
    summary = f"Stage: {previous.label} → {stage.label}"
    if stage == Stage.LOST:
        summary += f" ({lead.lost_reason})"
    record_event(
        session,
        lead,
        "stage_changed",
        summary,
        {"from": previous.value, "to": stage.value, "lost_reason": lead.lost_reason},
        actor_id,
    )
