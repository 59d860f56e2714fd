"""Rate limits answer 429 with Retry-After; signed links refuse tampering and expiry; a password
reset token works once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer

from crm.accounts import services as accounts
from crm.accounts.models import User
from crm.billing.models import Offer
from crm.booking import errors as booking_errors
from crm.booking import services as booking_services
from crm.booking.models import Booking
from crm.time import utcnow
from extensions import db
from tasks.models import Suppression


@pytest.fixture
def limits_on(app_ctx):
    from extensions import limiter

    saved = limiter.enabled
    limiter.enabled = True
    limiter.reset()
    yield
    limiter.reset()
    limiter.enabled = saved


def hammer(client, method: str, url: str, times: int, **kw):
    statuses = []
    response = None
    for _ in range(times):
        response = client.open(url, method=method, **kw)
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    return statuses, response


@pytest.mark.parametrize(
    ("method", "url", "kw"),
    [
        ("POST", "/login", {"data": {"email": "x@example.com", "password": "wrong-password"}}),
        ("POST", "/reset", {"data": {"email": "x@example.com"}}),
        ("POST", "/reset/bad-token", {"data": {"password": "new password 123"}}),
        ("POST", "/book", {"data": {"name": "A", "email": "a@example.com"}}),
        ("POST", "/api/v1/bookings", {"json": {"name": "A"}}),
        ("POST", "/api/v1/auth/token", {"json": {"email": "x@example.com", "password": "nope"}}),
    ],
)
def test_hammering_a_sensitive_endpoint_gets_429_with_retry_after(
    client, limits_on, method, url, kw
):
    statuses, response = hammer(client, method, url, 60, **kw)
    assert statuses[-1] == 429, statuses
    assert len(statuses) <= 21  # the limit bites within the minute's allowance
    assert int(response.headers["Retry-After"]) > 0
    if url.startswith("/api/"):
        assert response.is_json
    else:
        assert "text/html" in response.content_type
    # GETs of the same page are not limited by the POST limit.
    if not url.startswith("/api/"):
        assert client.get(url).status_code != 429


# --- signed links --------------------------------------------------------------------------


def tamper(token: str) -> list[str]:
    """Tokens one edit away: a flipped signature character, a swapped payload, a truncation."""
    payload, _, signature = token.rpartition(".")
    # Flip the first character: the last one of a base64 signature carries padding bits, so
    # changing it may decode to the very same bytes.
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [f"{payload}.{flipped}", token[:-3], f"{payload}x.{signature}", token + "x"]


def forged(salt: str, data, timed: bool = False) -> str:
    """Well-formed tokens signed with somebody else's key."""
    cls = URLSafeTimedSerializer if timed else URLSafeSerializer
    return cls("not-our-secret-key", salt=salt).dumps(data)


def test_manage_links_refuse_tampering_forgery_and_expiry(client, world):
    booking = db.session.get(Booking, world.booking_id)
    assert client.get(f"/manage/{world.manage_token}").status_code == 200
    bad = [*tamper(world.manage_token), forged("manage", {"b": booking.id, "exp": 2**40})]
    for token in bad:
        assert client.get(f"/manage/{token}").status_code == 404, token
        assert client.post(f"/manage/{token}/cancel").status_code in {400, 404}, token
    assert db.session.get(Booking, world.booking_id).status == booking.status
    with time_machine.travel(booking.end_at + timedelta(minutes=1)):
        assert client.get(f"/manage/{world.manage_token}").status_code == 404
        with pytest.raises(booking_errors.InvalidToken):
            booking_services.booking_from_token(db.session, world.manage_token)


def test_offer_links_refuse_tampering_forgery_and_expiry(client, world):
    assert client.get(f"/offer/{world.offer_token}").status_code == 200
    for token in [*tamper(world.offer_token), forged("offer", {"o": 1, "n": "0" * 32})]:
        assert client.get(f"/offer/{token}").status_code in {404, 410}, token
    offer = db.session.scalar(db.select(Offer))
    with time_machine.travel(offer.expires_at + timedelta(minutes=1)):
        assert client.get(f"/offer/{world.offer_token}").status_code == 410


def test_unsubscribe_links_refuse_tampering_and_forgery(client, world):
    bad = [*tamper(world.unsubscribe_token), forged("unsubscribe", "olga@example.com")]
    for token in bad:
        assert client.get(f"/unsubscribe/{token}").status_code == 404, token
        assert client.post(f"/unsubscribe/{token}").status_code == 404, token
    assert db.session.scalar(db.select(db.func.count()).select_from(Suppression)) == 0
    # The genuine link works (unsubscribe links never expire: RFC 8058, CAN-SPAM).
    assert client.post(f"/unsubscribe/{world.unsubscribe_token}").status_code == 200
    assert db.session.scalar(db.select(db.func.count()).select_from(Suppression)) == 1


def test_coaching_email_links_refuse_tampering_and_forgery(client, world):
    bad = [*tamper(world.coaching_token), forged("coaching-emails", world.runner_b.id)]
    for token in bad:
        assert client.get(f"/emails/coaching/{token}").status_code == 404, token
        assert client.post(f"/emails/coaching/{token}").status_code == 404, token
    assert db.session.get(User, world.runner_b.id).coaching_emails is True
    # The genuine link works, never expires, and turns off only her emails.
    assert client.post(f"/emails/coaching/{world.coaching_token}").status_code == 200
    assert db.session.get(User, world.runner_b.id).coaching_emails is False
    assert db.session.get(User, world.runner_a.id).coaching_emails is True


def test_a_regenerated_calendar_secret_kills_the_old_feed(client, auth, world):
    old = world.calendar_a
    auth.login(world.runner_a)
    assert client.get(f"/portal/calendar/{old}.ics").status_code == 200
    client.post("/portal/calendar/regenerate")
    assert client.get(f"/portal/calendar/{old}.ics").status_code == 404


# --- password reset ------------------------------------------------------------------------


def test_a_reset_token_works_once(client, make_user):
    user = make_user(role="runner", email="once@example.com")
    token = accounts.make_reset_token(user)
    first = client.post(
        f"/reset/{token}",
        data={"password": "a brand new password", "confirm": "a brand new password"},
    )
    assert first.status_code == 302
    assert accounts.authenticate(db.session, "once@example.com", "a brand new password")
    second = client.post(
        f"/reset/{token}",
        data={"password": "another new password", "confirm": "another new password"},
    )
    assert "/reset" in second.headers.get("Location", "")
    assert accounts.authenticate(db.session, "once@example.com", "a brand new password")
    assert not accounts.authenticate(db.session, "once@example.com", "another new password")


def test_a_reset_token_expires_and_refuses_tampering(make_user, db_session):
    user = make_user(role="runner", email="late@example.com")
    token = accounts.make_reset_token(user)
    for bad in [*tamper(token), forged("password-reset", {"uid": user.id, "pw": "x"}, timed=True)]:
        with pytest.raises(accounts.AccountError):
            accounts.reset_password(db_session, bad, "a brand new password")
    later = utcnow() + timedelta(seconds=accounts.RESET_MAX_AGE + 60)
    with time_machine.travel(later), pytest.raises(accounts.AccountError, match="expired"):
        accounts.reset_password(db_session, token, "a brand new password")
