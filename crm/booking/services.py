"""A free call's life: booked, moved, cancelled, held or missed — shared by the booking pages,
the manage link, the coach's pages and the API.

Every function takes a session and plain values, does its work in one transaction, commits, and
raises a domain error (crm.booking.errors) that the page or the API turns into a message.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from itsdangerous import BadSignature
from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.booking import busy_feed, emails
from crm.booking import slots as slot_rules
from crm.booking.availability import _check_free, load_rules
from crm.booking.calls import PHONE_NEEDED, meeting_for, needs_phone
from crm.booking.errors import BookingError, BookingInvalid, InvalidToken, SlotTaken
from crm.booking.models import Booking, BookingStatus
from crm.booking.slots import Rules
from crm.leads.followups import stop_call_followups
from crm.leads.models import Lead, Stage
from crm.leads.services import (
    add_events,
    change_stage,
    created_entry,
    find_lead,
    merge_into,
    move_stage,
    new_lead,
    record_event,
    stage_change_entry,
)
from crm.rows import attach, insert_row
from crm.time import coach_when, is_valid_timezone, utcnow, zone
from tasks.outbox import WindowedTask, queue_emails

log = logging.getLogger(__name__)

# The worker's half of a booking (crm/booking/tasks.py): queue the emails of the bookings made
# so far. Published once a window (BOOKING_EMAILS_WINDOW) by each web process, after a booking
# commits, and run as the window ends: one publish for every booking of a crowd's second.
QUEUE_EMAILS_TASK = "crm.booking.queue_emails"
_QUEUE_EMAILS = WindowedTask(QUEUE_EMAILS_TASK, "BOOKING_EMAILS_WINDOW")

# Field limits shared by the form, the API schema and the service's own check.
FIELD_LIMITS = {
    "name": 120,
    "email": 254,
    "phone": 40,
    "goal_race": 120,
    "pain_notes": 2000,
    "heard_from": 120,
    "timezone": 64,
    "utm": 120,
}
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _validate_fields(
    *,
    name: str,
    email: str,
    phone: str,
    timezone: str,
    goal_race: str,
    goal_date: date | None,
    pain_level: int | None,
    pain_notes: str,
    heard_from: str,
    utm: dict[str, str],
    today: date,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "Tell us your name."
    for field, value in (
        ("name", name),
        ("email", email),
        ("phone", phone),
        ("goal_race", goal_race),
        ("pain_notes", pain_notes),
        ("heard_from", heard_from),
    ):
        if len(value) > FIELD_LIMITS[field]:
            errors[field] = f"Keep this under {FIELD_LIMITS[field]} characters."
    if "email" not in errors:
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            errors["email"] = "Enter a valid email address."
    if not is_valid_timezone(timezone):
        errors["timezone"] = "Pick a time zone from the list."
    if goal_date is not None and not (today <= goal_date <= today + timedelta(days=5 * 366)):
        errors["goal_date"] = "Pick a race date from today on."
    if pain_level is not None and not 0 <= pain_level <= 10:
        errors["pain_level"] = "Pick a number from 0 (no pain) to 10 (worst)."
    for key, value in utm.items():
        if key not in UTM_KEYS:
            errors["utm"] = f"Unknown campaign field {key!r}."
        elif len(value) > FIELD_LIMITS["utm"]:
            errors["utm"] = "Campaign fields are too long."
    return errors


class _LeadMadeMeanwhile(Exception):
    """Her lead was INSERTed by another request after this one looked for it."""


def _once_more_if_she_was_made_meanwhile(book):
    """Two bookings with one new email at once (two tabs, two slots): both look for her, find
    no lead and INSERT one; the second INSERT breaks the email's uniqueness. That booking is made
    once more, and this time finds her lead and merges into it, instead of failing."""

    @functools.wraps(book)
    def booking(session: Session, **fields):
        try:
            return book(session, **fields)
        except _LeadMadeMeanwhile:
            try:
                return book(session, **fields)
            except _LeadMadeMeanwhile as again:  # not that race after all
                raise again.__cause__ from None

    return booking


@_once_more_if_she_was_made_meanwhile
def book_call(
    session: Session,
    *,
    name: str,
    email: str,
    slot_start: datetime,
    timezone: str,
    phone: str = "",
    goal_race: str = "",
    goal_date: date | None = None,
    pain_level: int | None = None,
    pain_notes: str = "",
    heard_from: str = "",
    marketing_consent: bool = False,
    utm: dict[str, str] | None = None,
    now: datetime | None = None,
) -> Booking:
    """Book a free call: upsert the lead by email, hold the slot, move the lead to call booked
    and put it on the timeline — one transaction, committed. Her confirmation (with its .ics) and
    reminders are queued by a Celery task once it commits (`queue_pending_booking_emails`, within
    BOOKING_EMAILS_WINDOW seconds), so the request does the booking and nothing else.

    Raises BookingInvalid (field errors), InvalidSlot (rules) or SlotTaken (someone holds it).
    """
    now = now or utcnow()
    name, email, phone = _clean(name), _clean(email), _clean(phone)
    goal_race, pain_notes, heard_from = _clean(goal_race), _clean(pain_notes), _clean(heard_from)
    utm = {k: _clean(v) for k, v in (utm or {}).items() if _clean(v)}
    timezone = _clean(timezone)
    errors = _validate_fields(
        name=name,
        email=email,
        phone=phone,
        timezone=timezone,
        goal_race=goal_race,
        goal_date=goal_date,
        pain_level=pain_level,
        pain_notes=pain_notes,
        heard_from=heard_from,
        utm=utm,
        today=now.astimezone(zone(timezone) if is_valid_timezone(timezone) else UTC).date(),
    )
    rules = load_rules(session)  # with how the call happens
    if needs_phone(rules) and not phone and "phone" not in errors:
        errors["phone"] = PHONE_NEEDED
    if errors:
        raise BookingInvalid(errors)
    slot = slot_rules.validate_slot(rules, slot_start, now=now)
    lead_id = _check_free(
        session, rules, slot, feed=_calendar_again(session, rules, now), lead_email=email
    )

    fields: dict[str, Any] = {
        "phone": phone,
        "goal_race": goal_race,
        "goal_date": goal_date,
        "pain_level": pain_level,
        "pain_notes": pain_notes,
        "heard_from": heard_from,
        "timezone": timezone,
        "marketing_consent": marketing_consent,
        "source": utm.get("utm_source") or "direct",
        "utm": utm,
        "consent_at": now,
    }
    call_kind, meeting_url = meeting_for(rules)
    created = False
    try:
        # The lead is written once, in its final stage (a new one: INSERTed as call booked), then
        # the booking, then its timeline in one INSERT. A new lead and the booking are INSERTed
        # by Core (crm.rows): nothing in this request changes them after, so the unit of work
        # would have nothing to track.
        created = lead_id is None
        if created:
            lead = new_lead(email=email, name=name, **fields)
        else:
            lead = session.get(Lead, lead_id)
            merge_into(lead, name=name, **fields)
        moved = None
        if lead.stage in (Stage.NEW, Stage.LOST, Stage.CALL_HELD):
            moved = move_stage(lead, Stage.CALL_BOOKED, force=True)
        if created:
            insert_row(session, lead)
        booking = insert_row(session, Booking(
            lead_id=lead.id,
            start_at=slot.start,
            end_at=slot.end,
            slot_start=slot.start,  # its uniqueness refuses a second holder here
            status=BookingStatus.BOOKED,
            timezone=timezone,
            created_at=now,
            call_kind=call_kind,
            meeting_url=meeting_url,
            emails_queued_at=None,  # NULL (not the column's default): the task's to do
        ))  # fmt: skip
        booked = (
            "booked",
            f"Free call booked for {_coach_time(rules, slot.start, timezone)}",
            {"booking_id": booking.id, "start": slot.start.isoformat(), "utm": utm},
        )
        add_events(session, lead.id, [
            *([created_entry(lead)] if created else []),
            *([stage_change_entry(moved)] if moved is not None else []),
            booked,
        ])  # fmt: skip
        if not created:  # a new booking stops the nurture (a new lead has none)
            stop_call_followups(session, lead.id)
        _QUEUE_EMAILS.after_commit(session)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if _slot_held(session, slot.start):
            raise SlotTaken() from exc
        if created and find_lead(session, email) is not None:
            raise _LeadMadeMeanwhile() from exc
        raise
    # The caller answers with the booking as written here, not read back.
    return attach(session, booking)


def queue_booking_emails(session: Session, booking_id: int, *, now: datetime | None = None) -> bool:
    """A booking's second half, run by the worker once the booking has committed: queue her
    confirmation (with its .ics) and the two reminders, which put themselves on her timeline.
    Once per booking: the row is locked and marked in the same transaction, and the outbox's
    idempotency keys refuse a second copy anyway; a row another run holds locked is that run's
    (two sweeps at once share the list instead of queueing behind each other). A call
    cancelled, moved or already started by then gets no confirmation (its own emails have said
    so). Commits; False when there was nothing to do."""
    booking = session.scalar(
        select(Booking).where(Booking.id == booking_id).with_for_update(skip_locked=True)
    )
    if booking is None or booking.emails_queued_at is not None:
        session.rollback()  # the lock
        return False
    now = now or utcnow()
    if booking.status == BookingStatus.BOOKED and booking.start_at > now:
        rules = load_rules(session)
        confirmation = emails.booking_email(session, booking, "booking_confirmation", rules)
        queue_emails(session, [confirmation, *emails.booking_reminders(booking)])
    booking.emails_queued_at = now
    session.commit()
    return True


def queue_pending_booking_emails(
    session: Session,
    *,
    now: datetime | None = None,
    grace: timedelta | None = None,
    batch: int = 200,
) -> int:
    """The emails of every booking made at least `grace` ago that is still without them, oldest
    first, each tried once (read `batch` at a time). The task the bookings publish runs it with
    no grace; beat's sweep with the outbox's OUTBOX_STALE_SECONDS (as long as an email may wait
    for its task), for the bookings whose task never came (the broker was down when they
    committed, or the worker died). Returns how many bookings it queued."""
    now = now or utcnow()
    if grace is None:
        grace = timedelta(seconds=current_app.config["OUTBOX_STALE_SECONDS"])
    pending = select(Booking.created_at, Booking.id).where(
        Booking.emails_queued_at.is_(None), Booking.created_at <= now - grace
    )
    done, after = 0, None
    while True:
        page = (
            pending
            if after is None
            else pending.where(tuple_(Booking.created_at, Booking.id) > tuple_(*after))
        )
        rows = session.execute(page.order_by(Booking.created_at, Booking.id).limit(batch)).all()
        session.rollback()
        for _created_at, booking_id in rows:
            try:
                done += queue_booking_emails(session, booking_id, now=now)
            except Exception:  # one booking's failure must not hold up the others'
                session.rollback()
                log.exception(
                    "could not queue the emails of booking %s; the next sweep retries", booking_id
                )
        if len(rows) < batch:
            return done
        after = tuple(rows[-1])


def _calendar_again(session: Session, rules: Rules, now: datetime) -> bool:
    """Her own calendar fetched again before a call is held (a few seconds at most; when it is
    down, the last good copy counts). False when she has no calendar feed (a feed without an
    address is deleted, never kept), so there is no copy to read: as the rules say, or as the
    refresh finds."""
    if rules.calendar_feed is False:
        return False
    return (
        busy_feed.refresh_busy_feed(session, timeout=busy_feed.BOOKING_TIMEOUT, now=now) is not None
    )


def _slot_held(session: Session, start: datetime) -> bool:
    return session.scalar(select(Booking.id).where(Booking.slot_start == start)) is not None


def _coach_time(rules: Rules, start: datetime, client_tz: str | None = None) -> str:
    return coach_when(start, rules.timezone, client_tz)


def active_booking(session: Session, booking_id: int) -> Booking:
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise BookingError("There is no such booking.")
    return booking


def reschedule_booking(
    session: Session,
    booking_id: int,
    new_slot_start: datetime,
    *,
    now: datetime | None = None,
    actor_id: int | None = None,
) -> Booking:
    """Move a booked call to another free slot: the old booking lets go of its slot (status
    rescheduled), a new one linked to it holds the new slot, the lead's timeline and an email say
    so. Commits. Raises BookingError, InvalidSlot or SlotTaken."""
    now = now or utcnow()
    old = active_booking(session, booking_id)
    if old.status != BookingStatus.BOOKED:
        raise BookingError("This call can no longer be changed.")
    if old.start_at <= now:
        raise BookingError("This call has already started, so it can't be moved.")
    rules = load_rules(session)
    slot = slot_rules.validate_slot(rules, new_slot_start, now=now)
    if slot.start == old.start_at:
        raise BookingError("That is the time you already have.", field="slot_start")
    fed = _calendar_again(session, rules, now)
    try:
        old.status = BookingStatus.RESCHEDULED
        old.slot_start = None
        session.flush()  # free the old slot before checking and holding the new one
        _check_free(session, rules, slot, feed=fed)
        new = Booking(
            lead=old.lead,
            start_at=slot.start,
            end_at=slot.end,
            slot_start=slot.start,
            status=BookingStatus.BOOKED,
            timezone=old.timezone,
            rescheduled_from_id=old.id,
            created_at=now,
            call_kind=old.call_kind,
            meeting_url=old.meeting_url,
        )
        session.add(new)
        session.flush()
        record_event(
            session,
            old.lead,
            "rescheduled",
            f"Call moved from {_coach_time(rules, old.start_at)} "
            f"to {_coach_time(rules, slot.start)}",
            {"from_booking_id": old.id, "booking_id": new.id, "start": slot.start.isoformat()},
            actor_id,
        )
        emails.cancel_booking_emails(session, old.id)
        moved = emails.booking_email(session, new, "booking_rescheduled", rules, previous=old)
        queue_emails(session, [moved, *emails.booking_reminders(new)])
        session.commit()
    except SlotTaken:
        session.rollback()
        raise
    except IntegrityError as exc:
        session.rollback()
        if _slot_held(session, slot.start):
            raise SlotTaken() from exc
        raise
    return new


def cancel_booking(
    session: Session, booking_id: int, *, now: datetime | None = None, actor_id: int | None = None
) -> Booking:
    """Cancel a booked call: it lets go of its slot, the lead's timeline and an email say so, and a
    lead whose only call this was goes back to new. Commits. Raises BookingError."""
    now = now or utcnow()
    booking = active_booking(session, booking_id)
    if booking.status != BookingStatus.BOOKED:
        raise BookingError("This call is not booked any more.")
    if booking.start_at <= now:
        raise BookingError("This call has already started, so it can't be cancelled.")
    rules = load_rules(session)
    booking.status = BookingStatus.CANCELLED
    booking.slot_start = None
    booking.cancelled_at = now
    lead = booking.lead
    record_event(
        session,
        lead,
        "cancelled",
        f"Call on {_coach_time(rules, booking.start_at)} cancelled",
        {"booking_id": booking.id},
        actor_id,
    )
    session.flush()
    others = session.scalar(
        select(Booking.id).where(Booking.lead_id == lead.id, Booking.status == BookingStatus.BOOKED)
    )
    if lead.stage == Stage.CALL_BOOKED and others is None:
        change_stage(session, lead, Stage.NEW, force=True, actor_id=actor_id)
    queue_emails(session, [emails.booking_email(session, booking, "booking_cancelled", rules)])
    emails.cancel_booking_emails(session, booking.id)
    session.commit()
    return booking


OUTCOMES = {"held": BookingStatus.HELD, "no_show": BookingStatus.NO_SHOW}


def mark_call_outcome(
    session: Session, booking_id: int, outcome: str, actor_id: int | None = None, *, now=None
) -> Booking:
    """Record that a call was held or the lead did not show ("held" | "no_show"); a held call
    moves the lead to call held. Commits. Raises BookingError."""
    now = now or utcnow()
    if outcome not in OUTCOMES:
        raise BookingError("Say whether the call was held or a no-show.")
    booking = active_booking(session, booking_id)
    if booking.status not in (BookingStatus.BOOKED, BookingStatus.HELD, BookingStatus.NO_SHOW):
        raise BookingError("This call was cancelled or moved; mark the new one instead.")
    if booking.start_at > now:
        raise BookingError("This call hasn't started yet.")
    status = OUTCOMES[outcome]
    if booking.status == status:
        return booking
    booking.status = status
    lead = booking.lead
    rules = load_rules(session)
    when = _coach_time(rules, booking.start_at)
    if status == BookingStatus.HELD:
        record_event(
            session, lead, "call_held", f"Call on {when} held", {"booking_id": booking.id}, actor_id
        )
        if lead.stage in (Stage.NEW, Stage.CALL_BOOKED, Stage.LOST):
            change_stage(session, lead, Stage.CALL_HELD, force=True, actor_id=actor_id)
    else:
        record_event(
            session,
            lead,
            "no_show",
            f"No-show for the call on {when}",
            {"booking_id": booking.id},
            actor_id,
        )
        emails.queue_no_show_email(session, booking)
    session.commit()
    return booking


def booking_from_token(session: Session, token: str, *, now: datetime | None = None) -> Booking:
    """The booking a manage token is for — or, when it was moved, the booking it became.
    Raises InvalidToken for a tampered, unknown or expired token."""
    now = now or utcnow()
    try:
        data = emails.manage_serializer().loads(token)
        booking_id, expires = int(data["b"]), int(data["exp"])
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidToken("This link is not valid. Use the link in your latest email.") from exc
    if now.timestamp() > expires:
        raise InvalidToken("This link has expired: the call is over.")
    booking = session.get(Booking, booking_id)
    if booking is None:
        raise InvalidToken("This booking no longer exists.")
    for _ in range(50):  # follow reschedules to the booking that holds the call now
        successor = session.scalar(select(Booking).where(Booking.rescheduled_from_id == booking.id))
        if successor is None:
            break
        booking = successor
    return booking


def lead_bookings(session: Session, lead: Lead) -> list[Booking]:
    return list(
        session.scalars(
            select(Booking).where(Booking.lead_id == lead.id).order_by(Booking.start_at.desc())
        )
    )
