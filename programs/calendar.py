"""The runner's plan as a calendar feed (.ics) behind a secret URL."""

from __future__ import annotations

import secrets
from datetime import timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from crm.time import utcnow
from programs.access import access_state
from programs.engine import Session
from programs.engine.model import RUN_WALK
from programs.models import CalendarToken
from programs.plans import active_plan, load_plan


def calendar_secret(session: DbSession, user_id: int) -> str:
    """The runner's calendar secret, created on first use."""
    token = session.scalar(select(CalendarToken).where(CalendarToken.user_id == user_id))
    if token is None:
        token = CalendarToken(user_id=user_id, secret=secrets.token_urlsafe(24))
        session.add(token)
        session.commit()
    return token.secret


def regenerate_calendar_secret(session: DbSession, user_id: int) -> str:
    """A new secret: the old feed URL stops working at once."""
    token = session.scalar(select(CalendarToken).where(CalendarToken.user_id == user_id))
    if token is None:
        token = CalendarToken(user_id=user_id)
        session.add(token)
    token.secret = secrets.token_urlsafe(24)
    token.created_at = utcnow()
    session.commit()
    return token.secret


def describe_session(s: Session) -> str:
    """One-paragraph plain-text description (calendar events, print)."""
    lines = [s.why, ""]
    if s.kind == RUN_WALK:
        for seg in s.segments:
            m, sec = divmod(seg.seconds, 60)
            label = {"warmup": "Warm-up walk", "cooldown": "Cool-down walk"}.get(
                seg.kind, seg.kind.capitalize()
            )
            lines.append(f"{label} {m}:{sec:02d}")
    for item in (*s.items, *s.block):
        amount = f"{item.reps} reps" if item.reps is not None else f"{item.seconds} s"
        side = " each side" if item.per_side else ""
        lines.append(f"{item.name}: {item.sets} x {amount}{side}. {item.cue}")
    return "\n".join(lines).strip()


def calendar_feed(session: DbSession, secret: str, base_url: str = "") -> bytes | None:
    """The .ics of the runner's active plan for a valid secret; None for an unknown secret or a
    client whose access is paused or ended."""
    if not secret:
        return None
    token = session.scalar(select(CalendarToken).where(CalendarToken.secret == secret))
    if token is None or access_state(session, token.user_id) is not None:
        return None  # unknown, or a client whose access ended: the feed is gone
    record = active_plan(session, token.user_id)
    cal = Calendar()
    cal.add("prodid", "-//0 to 5K Hero//Plan//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "0 to 5K Hero plan")
    if record is not None:
        stamp = record.updated_at or utcnow()
        for s in load_plan(record).sessions:
            event = Event()
            event.add("uid", f"{s.date.isoformat()}-{s.kind}-{token.user_id}@hero")
            event.add("summary", s.title)
            event.add("dtstart", s.date)
            event.add("dtend", s.date + timedelta(days=1))
            event.add("dtstamp", stamp)
            event.add("description", describe_session(s))
            if base_url:
                event.add("url", f"{base_url.rstrip('/')}/portal")
            cal.add_component(event)
    return cal.to_ical()
