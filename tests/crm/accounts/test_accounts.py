from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from flask import g
from sqlalchemy import select

from crm.accounts import services
from crm.accounts.models import Role, User
from crm.accounts.routes import safe_next
from crm.time import utcnow
from extensions import db
from tasks.models import OutboxEmail

PASSWORD = "correct horse battery"


def _login(client, email="coach@example.com", password=PASSWORD, next_=None):
    url = "/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"email": email, "password": password})


def test_login_and_logout(client, coach):
    response = _login(client)
    assert response.status_code == 302
    g.pop("_login_user", None)
    assert client.get("/coach").status_code == 200
    assert client.post("/logout").status_code == 302
    g.pop("_login_user", None)
    assert client.get("/coach").status_code == 302


def test_wrong_password_shows_the_form_again(client, coach):
    response = _login(client, password="not the password")
    assert response.status_code == 200
    assert "don&#39;t match an account" in response.get_data(as_text=True)


def test_login_email_is_case_insensitive(client, coach):
    assert _login(client, email="COACH@Example.com").status_code == 302


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/coach/leads?stage=new", "/coach/leads?stage=new"),
        ("https://evil.example/", "/coach"),
        ("//evil.example/x", "/coach"),
        ("/\\evil.example", "/coach"),
        ("javascript:alert(1)", "/coach"),
    ],
)
def test_next_only_goes_to_local_paths(client, coach, target, expected):
    response = _login(client, next_=target)
    assert response.headers["Location"] == expected


def test_safe_next_defaults():
    assert safe_next(None, "/home") == "/home"
    assert safe_next("relative/path", "/home") == "/home"


def test_reset_request_gives_the_same_answer_for_known_and_unknown_emails(client, coach):
    known = client.post("/reset", data={"email": "coach@example.com"}, follow_redirects=True)
    unknown = client.post("/reset", data={"email": "nobody@example.com"}, follow_redirects=True)
    assert known.status_code == unknown.status_code == 200
    message = "If that email has an account, a reset link is on its way."
    assert message in known.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)
    emails = list(db.session.scalars(select(OutboxEmail)))
    assert [e.to_email for e in emails] == ["coach@example.com"]
    assert emails[0].template == "password_reset"


def test_reset_token_works_once(client, coach):
    token = services.make_reset_token(coach)
    response = client.post(
        f"/reset/{token}", data={"password": "a brand new secret", "confirm": "a brand new secret"}
    )
    assert response.status_code == 302
    assert services.authenticate(db.session, "coach@example.com", "a brand new secret")
    with pytest.raises(services.AccountError, match="already been used"):
        services.reset_password(db.session, token, "yet another secret!")


def test_reset_token_expires(db_session, coach):
    token = services.make_reset_token(coach)
    later = utcnow() + timedelta(seconds=services.RESET_MAX_AGE + 60)
    with (
        time_machine.travel(later),
        pytest.raises(services.AccountError, match="expired"),
    ):
        services.reset_password(db_session, token, "a brand new secret")
    assert services.authenticate(db_session, "coach@example.com", PASSWORD)


def test_a_tampered_reset_token_is_refused(db_session, coach):
    token = services.make_reset_token(coach)
    with pytest.raises(services.AccountError, match="not valid"):
        services.reset_password(db_session, token[:-2] + "xx", "a brand new secret")


def test_create_coach_with_a_password(cli_runner):
    result = cli_runner.invoke(
        args=["create-coach", "--email", "Ali@Example.com", "--password", "long enough pw"]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User))
    assert (user.email, user.role) == ("ali@example.com", Role.COACH)
    assert services.authenticate(db.session, "ali@example.com", "long enough pw")


def test_create_coach_prompts_for_the_password(cli_runner):
    result = cli_runner.invoke(
        args=["create-coach", "--email", "ali@example.com"],
        input="prompted secret\nprompted secret\n",
    )
    assert result.exit_code == 0, result.output
    assert services.authenticate(db.session, "ali@example.com", "prompted secret")


def test_create_coach_refuses_a_duplicate_or_short_password(cli_runner, coach):
    dup = cli_runner.invoke(
        args=["create-coach", "--email", "coach@example.com", "--password", "long enough pw"]
    )
    assert dup.exit_code != 0 and "already exists" in dup.output
    short = cli_runner.invoke(args=["create-coach", "--email", "b@example.com", "--password", "x"])
    assert short.exit_code != 0 and "at least" in short.output
