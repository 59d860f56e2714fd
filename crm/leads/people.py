"""What the outbox asks of the CRM about the people its emails are about (`tasks.registry`):
a lead's marketing consent, her timeline, a paused automation, and the contacts of a preview."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from crm.accounts.models import Role, User
from crm.forms import normalise_email
from crm.leads.models import Lead
from crm.leads.services import Entry, find_lead, record_event
from tasks.outbox import timeline_summary
from tasks.registry import Contact, EmailEvent


def leads_by_id(session: Session, ids: set[int]) -> dict[int, Lead]:
    """The leads with these ids: those the session holds already without a query (a booking's
    own lead), the rest in one SELECT."""
    held = {i: session.identity_map.get(identity_key(Lead, i)) for i in ids}
    leads = {i: lead for i, lead in held.items() if lead is not None}
    missing = ids - leads.keys()
    if missing:
        leads.update(
            (lead.id, lead) for lead in session.scalars(select(Lead).where(Lead.id.in_(missing)))
        )
    return leads


def email_entry(event: EmailEvent) -> Entry:
    """The timeline entry of what happened to an email about a lead."""
    return (
        event.kind,
        timeline_summary(event),
        {"outbox_id": event.outbox_id, "template": event.template},
    )


class LeadPeople:
    """The `tasks.registry.People` of Hero: the people emails are about are leads."""

    def marketing_consent(
        self, session: Session, wanted: list[tuple[str, int | None]]
    ) -> list[bool]:
        by_id = {
            i: lead.marketing_consent
            for i, lead in leads_by_id(session, {i for _, i in wanted if i}).items()
        }
        no_id = {normalise_email(email) for email, i in wanted if not i}
        by_email: dict[str, bool] = {}
        if no_id:
            by_email = dict(
                session.execute(
                    select(Lead.email, Lead.marketing_consent).where(Lead.email.in_(no_id))
                ).all()
            )
        return [
            bool(by_id.get(i) if i else by_email.get(normalise_email(email))) for email, i in wanted
        ]

    def paused(self, session: Session, lead_ids: set[int]) -> set[int]:
        return set(
            session.scalars(
                select(Lead.id).where(Lead.id.in_(lead_ids), Lead.automation_paused.is_(True))
            )
        )

    def record(self, session: Session, events: list[EmailEvent]) -> None:
        leads = leads_by_id(session, {e.lead_id for e in events})
        for e in events:
            lead = leads.get(e.lead_id)
            if lead is not None:
                record_event(session, lead, *email_entry(e))

    def suppressed(self, session: Session, address: str, reason: str) -> None:
        lead = find_lead(session, address)
        if lead is not None:
            if lead.marketing_consent:
                lead.marketing_consent = False
            record_event(session, lead, "unsubscribed", f"Email suppressed: {reason}")

    def contact(self, session: Session, value: str | None) -> Contact:
        kind, _, raw = (value or "").partition(":")
        if not raw.isdigit():
            return Contact()
        if kind == "lead":
            lead = session.get(Lead, int(raw))
            user = session.get(User, lead.user_id) if lead and lead.user_id else None
            return Contact(lead=lead, user=user)
        if kind == "user":
            return Contact(user=session.get(User, int(raw)))
        return Contact()

    def contacts(self, session: Session, limit: int) -> list[tuple[str, str]]:
        leads = session.scalars(select(Lead).order_by(Lead.id.desc()).limit(limit)).all()
        runners = session.scalars(
            select(User).where(User.role == Role.RUNNER).order_by(User.id.desc()).limit(limit)
        ).all()
        linked = {lead.user_id for lead in leads if lead.user_id}
        return [(f"lead:{lead.id}", f"{lead.name} <{lead.email}>") for lead in leads] + [
            (f"user:{u.id}", f"{u.display_name} <{u.email}> (runner)")
            for u in runners
            if u.id not in linked
        ]
