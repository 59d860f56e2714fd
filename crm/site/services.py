"""The landing page's editable copy: defaults in code, the coach's edits in the database."""

from __future__ import annotations

import hashlib
import json
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.site.models import SiteText

DEFAULT_LANDING: dict[str, str] = {
    "headline": "Run your first 5K strong — even after an injury",
    "subhead": (
        "0 to 5K Hero is personal coaching from a Doctor of Physical Therapy for women getting "
        "back to running after knee pain, shin splints or IT band trouble. Many of my runners are "
        "training for a runDisney race and want to enjoy every mile of their runcation."
    ),
    "method": (
        "Squats and lunges are not the fix for sore knees. Your hips decide where each foot lands, "
        "so we strengthen them in every direction they move — forward, back, out to the side, "
        "across, rotating out and rotating in — with the knee straight and bent, standing, lying "
        "and even sitting, using your body weight, bands, weights or gym machines. Variety keeps "
        "your hips guessing and your knees happy."
    ),
    "included": (
        "A personal run/walk plan that grows week by week\n"
        "Hip-strength days built from the equipment you own\n"
        "Injury coaching from a physical therapist\n"
        "Weekly check-ins and a plan that adapts when something hurts\n"
        "A supportive community of runners on the same road"
    ),
    "about": (
        "Hi, I'm Ali. I have been a Doctor of Physical Therapy since 2012, treating runners with "
        "shin splints, Achilles and knee pain, IT band trouble and plantar fasciitis. Today I help "
        "women come back from injury and cross their runDisney finish line smiling."
    ),
}

FIELD_LIMITS = {"headline": 120, "subhead": 600, "method": 1500, "included": 1500, "about": 1500}


def landing_copy(session: Session) -> dict[str, str]:
    """The landing page's blocks: the coach's saved text over the defaults."""
    saved = {t.key: t.value for t in session.scalars(select(SiteText))}
    return {key: saved.get(key, default) for key, default in DEFAULT_LANDING.items()}


# The landing page is the busiest public page and its copy changes when the coach edits it, a
# few times a year: each process keeps it for LANDING_TTL seconds (per database), so a visit costs
# no database round trip. Saving clears this process's copy; other processes catch up within TTL.
LANDING_TTL = 30.0
_landing_cache: dict[str, tuple[float, dict[str, str]]] = {}
_clock = time.monotonic


def cached_landing_copy(session: Session) -> dict[str, str]:
    """`landing_copy`, at most LANDING_TTL seconds old."""
    key = str(session.get_bind().url)
    now = _clock()
    hit = _landing_cache.get(key)
    if hit is not None and hit[0] > now:
        return dict(hit[1])
    copy = landing_copy(session)
    _landing_cache[key] = (now + LANDING_TTL, copy)
    return dict(copy)


def landing_version(session: Session) -> str:
    """A hash of the landing copy this process shows (its public ETag's version)."""
    copy = cached_landing_copy(session)
    return hashlib.blake2b(json.dumps(copy, sort_keys=True).encode(), digest_size=8).hexdigest()


def forget_landing_copy() -> None:
    """Drop this process's cached landing copy (after an edit)."""
    _landing_cache.clear()


def save_landing_copy(session: Session, values: dict[str, str]) -> None:
    """Store the coach's edits (only known keys); commits."""
    for key, value in values.items():
        if key not in DEFAULT_LANDING:
            continue
        row = session.get(SiteText, key)
        if row is None:
            session.add(SiteText(key=key, value=value))
        else:
            row.value = value
    session.commit()
    forget_landing_copy()
