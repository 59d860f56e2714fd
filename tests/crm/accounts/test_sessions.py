"""Sessions and tokens the server can take back: logout, "Sign out everywhere", a new password,
remember-me cookies, API tokens that expire and that the coach revokes, reset links that say
nothing of the user — and a user loader that costs one query."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import zlib
from datetime import timedelta

import time_machine
from sqlalchemy import event, select

from crm.accounts import services
from crm.accounts.models import ApiToken, LoginSession, PasswordResetToken
from crm.time import utcnow
from extensions import db, login_manager

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a brand new secret"


def login(app, email: str, *, remember: bool = False):
    """A fresh browser that logs in through the form."""
    client = app.test_client()
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def copy_of(app, client, *names: str):
    """Another browser holding copies of `client`'s cookies (a stolen cookie)."""
    thief = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value)
    return thief


def signed_in(client, url: str = "/coach") -> bool:
    response = client.get(url)
    assert response.status_code in {200, 302}, response.status_code
    return response.status_code == 200


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_logout_ends_the_session_on_the_server(app_ctx, coach):
    browser = login(app_ctx, coach.email)
    stolen = copy_of(app_ctx, browser, "session")
    assert signed_in(stolen)
    assert browser.post("/logout").status_code == 302
    assert not signed_in(browser)
    # The copy of the cookie taken before the logout no longer works either.
    assert not signed_in(stolen)


def test_each_login_gets_its_own_remember_me_cookie_and_each_can_be_revoked(app_ctx, coach):
    phone = login(app_ctx, coach.email, remember=True)
    laptop = login(app_ctx, coach.email, remember=True)
    phone_cookie = phone.get_cookie("remember_token").value
    laptop_cookie = laptop.get_cookie("remember_token").value
    assert phone_cookie != laptop_cookie
    # A browser with only the remember-me cookie (the session cookie gone) is signed in.
    phone_later = copy_of(app_ctx, phone, "remember_token")
    laptop_later = copy_of(app_ctx, laptop, "remember_token")
    assert signed_in(phone_later) and signed_in(laptop_later)
    # Logging out on the phone ends the phone's remember-me cookie, not the laptop's.
    phone.post("/logout")
    assert not signed_in(copy_of(app_ctx, phone_later, "remember_token"))
    assert signed_in(copy_of(app_ctx, laptop, "remember_token"))


def test_sign_out_everywhere_ends_every_session_and_remember_me_cookie(app_ctx, coach):
    here = login(app_ctx, coach.email)
    there = login(app_ctx, coach.email, remember=True)
    remembered = copy_of(app_ctx, there, "remember_token")
    page = here.get("/account").get_data(as_text=True)
    assert "Sign out everywhere" in page and "data-confirm" in page
    response = here.post("/account/sign-out-everywhere")
    assert response.status_code == 302
    assert not signed_in(here)
    assert not signed_in(there)
    assert not signed_in(remembered)
    assert signed_in(login(app_ctx, coach.email))  # she can log in again


def test_a_password_reset_ends_every_session_remember_me_cookie_and_api_token(
    app_ctx, client, coach
):
    browser = login(app_ctx, coach.email)
    remembered = copy_of(app_ctx, login(app_ctx, coach.email, remember=True), "remember_token")
    api_token = services.issue_api_token(db.session, coach, "Zapier")
    assert client.get("/api/v1/leads", headers=bearer(api_token)).status_code == 200
    other_link = services.make_reset_token(coach)
    token = services.make_reset_token(coach)
    db.session.commit()

    reset = app_ctx.test_client()
    response = reset.post(
        f"/reset/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 302

    assert not signed_in(browser)
    assert not signed_in(remembered)
    assert client.get("/api/v1/leads", headers=bearer(api_token)).status_code == 401
    assert signed_in(reset)  # the browser that reset it is signed in afresh
    # Any other reset link sent before is dead too.
    assert not services.reset_token_is_live(db.session, other_link)


def test_a_password_change_ends_every_other_session_and_api_token(app_ctx, client, coach):
    here = login(app_ctx, coach.email)
    there = login(app_ctx, coach.email, remember=True)
    remembered = copy_of(app_ctx, there, "remember_token")
    stolen = copy_of(app_ctx, here, "session")
    api_token = services.issue_api_token(db.session, coach, "Zapier")

    wrong = here.post(
        "/account/password",
        data={"current": "not my password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status_code == 422
    assert "not your current password" in wrong.get_data(as_text=True)
    assert signed_in(there)

    response = here.post(
        "/account/password",
        data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert signed_in(here)  # this browser is signed in again, on a new session
    assert not signed_in(stolen)  # ...and the old cookie of this very browser is dead
    assert not signed_in(there)
    assert not signed_in(remembered)
    assert client.get("/api/v1/leads", headers=bearer(api_token)).status_code == 401
    assert services.authenticate(db.session, coach.email, NEW_PASSWORD) is not None


def test_a_runner_can_change_her_password_and_sign_out_everywhere_too(app_ctx, make_user):
    runner = make_user(role="runner", email="runner@example.com")
    browser = login(app_ctx, runner.email)
    page = browser.get("/account")
    assert page.status_code == 200
    assert "Change your password" in page.get_data(as_text=True)
    assert "API tokens" not in page.get_data(as_text=True)
    browser.post("/account/sign-out-everywhere")
    assert browser.get("/account").status_code == 302


def test_the_cookies_carry_a_random_secret_stored_only_as_a_hash(app_ctx, coach):
    login(app_ctx, coach.email, remember=True)
    row = db.session.scalar(select(LoginSession))
    assert row.user_id == coach.id and row.remember
    assert len(row.token_hash) == 64
    assert row.expires_at > utcnow() + timedelta(days=29)


def test_a_session_without_keep_me_signed_in_expires_within_a_day(app_ctx, coach):
    browser = login(app_ctx, coach.email)
    with time_machine.travel(utcnow() + timedelta(hours=25)):
        assert not signed_in(browser)


def test_an_inactive_user_is_signed_out(app_ctx, coach):
    browser = login(app_ctx, coach.email)
    coach.active = False
    db.session.commit()
    assert not signed_in(browser)


def count_statements(fn):
    statements = []

    def before(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        result = fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    return result, statements


def test_the_user_loader_costs_one_query(app_ctx, coach, make_user):
    from tests.conftest import sign_in

    runner = make_user(role="runner", email="runner@example.com")
    logins = [(user.id, sign_in(app_ctx.test_client(), user)) for user in (coach, runner)]
    for user_id, login_id in logins:
        db.session.expunge_all()  # nothing cached: the loader reads the database
        loaded, statements = count_statements(lambda: login_manager._user_callback(login_id))  # noqa: B023
        assert loaded is not None and loaded.id == user_id
        assert len(statements) == 1, statements
        # The portal's guard reads her access from the same row: no query of its own.
        assert loaded.access_state is None


def test_the_bearer_loader_costs_one_query(app_ctx, coach):
    token = services.issue_api_token(db.session, coach, "Zapier")
    client = app_ctx.test_client()
    assert client.get("/api/v1/leads", headers=bearer(token)).status_code == 200  # touches it
    db.session.expunge_all()

    class Request:
        headers = bearer(token)

    loaded, statements = count_statements(lambda: login_manager._request_callback(Request()))
    assert loaded is not None and loaded.id == coach.id
    assert len(statements) == 1, statements


# --- API tokens --------------------------------------------------------------------------------


def test_api_tokens_expire_after_api_token_days(app_ctx, client, coach):
    token = services.issue_api_token(db.session, coach, "Default")
    assert client.get("/api/v1/leads", headers=bearer(token)).status_code == 200
    with time_machine.travel(utcnow() + timedelta(days=29)):
        assert client.get("/api/v1/leads", headers=bearer(token)).status_code == 200
    with time_machine.travel(utcnow() + timedelta(days=31)):
        response = client.get("/api/v1/leads", headers=bearer(token))
        assert response.status_code == 401 and response.is_json
    app_ctx.config["API_TOKEN_DAYS"] = 2
    try:
        short = services.issue_api_token(db.session, coach, "Short")
    finally:
        app_ctx.config["API_TOKEN_DAYS"] = 30
    with time_machine.travel(utcnow() + timedelta(days=3)):
        assert client.get("/api/v1/leads", headers=bearer(short)).status_code == 401


def test_the_coach_revokes_a_token_from_her_tokens_page(app_ctx, client, coach):
    token = services.issue_api_token(db.session, coach, "Old Zapier")
    keep = services.issue_api_token(db.session, coach, "Bookkeeping")
    browser = login(app_ctx, coach.email)
    page = browser.get("/coach/api-tokens")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Old Zapier" in html and "Bookkeeping" in html
    assert html.count("data-confirm=") == 2  # each Revoke button asks first
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == "Old Zapier"))
    assert browser.post(f"/coach/api-tokens/{row.id}/revoke").status_code == 302
    assert client.get("/api/v1/leads", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/leads", headers=bearer(keep)).status_code == 200
    assert "Revoked" in browser.get("/coach/api-tokens").get_data(as_text=True)


def test_the_coach_cannot_revoke_a_token_that_is_not_hers(app_ctx, coach, make_user):
    other = make_user(role="coach", email="other-coach@example.com")
    services.issue_api_token(db.session, other, "Theirs")
    row = db.session.scalar(select(ApiToken))
    browser = login(app_ctx, coach.email)
    assert browser.post(f"/coach/api-tokens/{row.id}/revoke").status_code == 404
    assert db.session.get(ApiToken, row.id).revoked_at is None


# --- password reset links ----------------------------------------------------------------------


def _decodings(token: str) -> list[bytes]:
    """Every way the token's parts could be read back: base64 (itsdangerous), compressed."""
    out = [token.encode()]
    for part in re.split(r"[.:]", token):
        padded = part + "=" * (-len(part) % 4)
        try:
            raw = base64.urlsafe_b64decode(padded)
        except ValueError:
            continue
        out.append(raw)
        with contextlib.suppress(zlib.error):
            out.append(zlib.decompress(raw))
    return out


def test_a_reset_token_says_nothing_of_the_user_or_her_password(app_ctx, coach):
    token = services.make_reset_token(coach)
    db.session.commit()
    fingerprints = [coach.password_hash[i : i + 8] for i in range(0, len(coach.password_hash), 8)]
    for raw in _decodings(token):
        assert b"uid" not in raw and b'"pw"' not in raw
        assert not any(f.encode() in raw for f in fingerprints if len(f) == 8)
    # Stored hashed: the database alone cannot make a working link.
    row = db.session.scalar(select(PasswordResetToken))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.token_hash
    assert services.make_reset_token(coach) != token  # random, never derived


def test_a_reset_link_works_once_and_expires(app_ctx, coach):
    token = services.make_reset_token(coach)
    later = services.make_reset_token(coach)
    db.session.commit()
    client = app_ctx.test_client()
    assert client.get(f"/reset/{token}").status_code == 200
    with time_machine.travel(utcnow() + timedelta(seconds=services.RESET_MAX_AGE + 5)):
        gone = client.get(f"/reset/{later}")
        assert gone.status_code == 302 and "/reset" in gone.headers["Location"]
    done = client.post(f"/reset/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    again = app_ctx.test_client().post(
        f"/reset/{token}", data={"password": "third password!", "confirm": "third password!"}
    )
    assert again.status_code == 302 and "/reset" in again.headers["Location"]
    assert services.authenticate(db.session, coach.email, NEW_PASSWORD) is not None


def test_sign_ins_and_reset_links_long_over_are_pruned(app_ctx, coach):
    from crm.accounts.sessions import prune_sign_ins

    browser = login(app_ctx, coach.email)
    services.make_reset_token(coach)
    db.session.commit()
    assert prune_sign_ins(db.session) == 0
    assert signed_in(browser)
    with time_machine.travel(utcnow() + timedelta(days=32)):
        assert prune_sign_ins(db.session) == 2
    assert db.session.scalar(select(LoginSession)) is None
    assert db.session.scalar(select(PasswordResetToken)) is None
