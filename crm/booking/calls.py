"""How the free call happens, the coach's choice: a video call (the default: a Jitsi Meet room
made for each booking, an unguessable name on meet.jit.si with no account and no API, or her own
fixed meeting link) or a phone call (then the visitor must give a number).
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from crm.booking.availability import coach_settings
from crm.booking.errors import AvailabilityError
from crm.booking.models import CallKind, CoachSettings
from crm.booking.slots import Rules

JITSI_BASE = "https://meet.jit.si/"
LINK_LIMIT = 300
PHONE_NEEDED = "Coach Ali will call you: give a phone number she can reach you on."


def jitsi_room() -> str:
    """A fresh meeting room that nobody can guess (~128 bits)."""
    return f"{JITSI_BASE}0to5KHero-{secrets.token_hex(16)}"


def needs_phone(settings: CoachSettings | Rules) -> bool:
    return settings.call_kind == CallKind.PHONE


def meeting_for(settings: CoachSettings | Rules) -> tuple[str, str]:
    """(call kind, meeting URL) for a new booking under these settings (or the rules that
    `load_rules` read with them)."""
    if needs_phone(settings):
        return CallKind.PHONE, ""
    return CallKind.VIDEO, settings.video_link or jitsi_room()


def save_call_settings(session: Session, *, call_kind: str, video_link: str = "") -> None:
    """Set how calls happen. Raises AvailabilityError (field → message). Commits."""
    link = (video_link or "").strip()
    errors: dict[str, str] = {}
    if call_kind not in tuple(CallKind):
        errors["call_kind"] = "Choose a phone call or a video call."
    if link:
        parts = urlsplit(link)
        if parts.scheme != "https" or not parts.netloc:
            errors["video_link"] = "Paste the full https:// address of your meeting room."
        elif len(link) > LINK_LIMIT:
            errors["video_link"] = f"Keep the link under {LINK_LIMIT} characters."
    if errors:
        raise AvailabilityError(errors)
    settings = coach_settings(session)
    settings.call_kind = call_kind
    settings.video_link = link
    session.add(settings)
    session.commit()
