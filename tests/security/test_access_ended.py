"""A client whose access the coach ended reaches nothing of the portal.

The walk reads the URL map: every runner route (a view that requires the runner role, or a
private page that is neither the coach's nor an account page: the community) answers her with
the kind page (403 JSON under /api/), whatever the method — so a route added tomorrow is covered
with no edit. Her calendar feed and check-in link close, and emails with portal links stop.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from flask import Flask, g
from werkzeug.routing import Rule

from crm.accounts.models import Role
from crm.billing.models import (
    CheckoutAttempt,
    Enrolment,
    EnrolmentStatus,
    Offer,
    Price,
    PriceKind,
    Programme,
)
from crm.leads.models import Lead, Stage
from crm.time import utcnow
from extensions import db
from programs.coaching.checkins import checkin_token, week_label
from programs.community.members import save_settings
from programs.community.posts import add_comment, create_post
from tasks.models import OutboxEmail
from tests.conftest import sign_in
from tests.security.conftest import World, methods_of, walkable_rules

ENDED = "has ended"  # the kind page's words
_seq = itertools.count(1)


def enrol(user) -> Enrolment:
    """An enrolment as fulfilment makes it (status active)."""
    n = next(_seq)
    programme = Programme(name=f"0 to 5K Hero {n}")
    price = Price(programme=programme, kind=PriceKind.ONE_TIME, amount_cents=29900)
    lead = Lead(email=user.email, name=user.first_name, stage=Stage.ENROLLED, user_id=user.id)
    db.session.add_all([programme, price, lead])
    db.session.flush()
    offer = Offer(lead_id=lead.id, programme_id=programme.id, nonce=f"ended{n}",
                  expires_at=utcnow() + timedelta(days=14))  # fmt: skip
    db.session.add(offer)
    db.session.flush()
    attempt = CheckoutAttempt(offer_id=offer.id, price_id=price.id, mode="payment",
                              stripe_session_id=f"cs_test_ended_{n}")  # fmt: skip
    db.session.add(attempt)
    db.session.flush()
    enrolment = Enrolment(user_id=user.id, lead_id=lead.id, programme_id=programme.id,
                          price_id=price.id, checkout_attempt_id=attempt.id,
                          stripe_checkout_session_id=f"cs_test_ended_{n}")  # fmt: skip
    db.session.add(enrolment)
    db.session.commit()
    return enrolment


def coach_sets_access(app: Flask, world: World, enrolment: Enrolment, action: str) -> None:
    """The coach's own button on the enrolment page."""
    coach = app.test_client()
    sign_in(coach, world.coach)
    response = coach.post(f"/coach/enrolments/{enrolment.id}/access", data={"action": action})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Enrolment, enrolment.id).status == EnrolmentStatus(
        {"end": "ended", "pause": "paused"}[action]
    )


def runner_rules(app: Flask) -> list[Rule]:
    """Every route of the runner's side, read from the URL map."""
    rules = []
    for rule in walkable_rules(app):
        view = app.view_functions[rule.endpoint]
        role = getattr(view, "required_role", None)
        member_page = (
            role is None
            and getattr(view, "private_page", False)
            and not rule.endpoint.startswith("accounts.")
        )
        if role == Role.RUNNER or member_page:
            rules.append(rule)
    return rules


def request_as(app: Flask, user, method: str, url: str):
    g.pop("_login_user", None)
    client = app.test_client()
    sign_in(client, user)
    if url.startswith("/api/"):
        return client.open(url, method=method, json={} if method != "GET" else None)
    return client.open(url, method=method, data={} if method != "GET" else None)


@pytest.fixture
def enrolled(world):
    enrolment = enrol(world.runner_a)
    save_settings(
        db.session,
        world.runner_a.id,
        display_name="Annie A.",
        notify_replies=True,
        weekly_digest=True,
    )  # she ticks both (opt-in)
    return enrolment


def test_the_walk_finds_the_whole_runner_side(app_ctx):
    found = {rule.rule for rule in runner_rules(app_ctx)}
    for expected in ("/portal", "/portal/plan", "/portal/log", "/api/v1/me/plan",
                     "/api/v1/me/logs", "/community", "/community/posts"):  # fmt: skip
        assert expected in found, expected


@pytest.mark.parametrize("action, words", [("end", ENDED), ("pause", "paused")])
def test_every_runner_route_shows_an_ended_client_the_kind_page(
    app_ctx, world, enrolled, action, words
):
    rules = runner_rules(app_ctx)
    # While she is a client, no runner page shows it (the walk can tell the difference).
    for rule in rules:
        if "GET" in methods_of(rule):
            response = request_as(app_ctx, world.runner_a, "GET", world.url_for_rule(rule))
            assert words not in response.get_data(as_text=True), rule.rule

    coach_sets_access(app_ctx, world, enrolled, action)

    problems = []
    for rule in rules:
        for method in methods_of(rule):
            url = world.url_for_rule(rule)
            response = request_as(app_ctx, world.runner_a, method, url)
            where = f"{method} {url} ({rule.endpoint}) -> {response.status_code}"
            if response.status_code != 403:
                problems.append(f"not refused: {where}")
            elif url.startswith("/api/"):
                body = response.get_json(silent=True) or {}
                if body.get("access") != {"end": "ended", "pause": "paused"}[action]:
                    problems.append(f"API does not say why: {where} {body}")
            elif words not in response.get_data(as_text=True):
                problems.append(f"not the kind page: {where}")
    assert not problems, "\n".join(problems)


def test_the_kind_page_says_how_to_come_back(app_ctx, world, enrolled):
    coach_sets_access(app_ctx, world, enrolled, "end")
    page = request_as(app_ctx, world.runner_a, "GET", "/portal").get_data(as_text=True)
    assert "Your time in the programme has ended" in page
    assert "Coach Ali" in page  # reply to her emails…
    assert "/book" in page  # …or book a free call
    # The rest of the site is still hers: her account page, logging out.
    assert request_as(app_ctx, world.runner_a, "GET", "/account").status_code == 200


def test_another_client_and_the_coach_are_not_affected(app_ctx, world, enrolled):
    coach_sets_access(app_ctx, world, enrolled, "end")
    assert request_as(app_ctx, world.runner_b, "GET", "/portal").status_code == 200
    assert request_as(app_ctx, world.coach, "GET", "/community").status_code == 200
    assert request_as(app_ctx, world.coach, "GET", "/coach/clients").status_code == 200


def test_her_calendar_feed_and_checkin_link_close(app_ctx, world, enrolled):
    client = app_ctx.test_client()
    feed = f"/portal/calendar/{world.calendar_a}.ics"
    checkin = f"/checkin/{checkin_token(world.runner_a.id, week_label(date.today()))}"
    assert client.get(feed).status_code == 200
    assert client.get(checkin).status_code == 200
    coach_sets_access(app_ctx, world, enrolled, "end")
    assert client.get(feed).status_code == 404
    page = client.get(checkin)
    assert page.status_code == 403 and ENDED in page.get_data(as_text=True)
    assert client.get(f"/portal/calendar/{world.calendar_b}.ics").status_code == 200


def test_emails_with_portal_links_are_not_sent_once_her_access_ended(app_ctx, world, enrolled):
    send = app_ctx.extensions["celery"].tasks["tasks.send_email"]
    post = create_post(db.session, world.runner_a.id, "First 10 minutes without walking!")
    add_comment(db.session, world.coach.id, post.id, "So proud of you")
    add_comment(db.session, world.coach.id, post.id, "And again")
    first, second = sorted(
        db.session.query(OutboxEmail).filter_by(template="community_reply"), key=lambda r: r.id
    )
    assert send.apply(args=[first.id]).get() == "sent"  # a member gets it
    coach_sets_access(app_ctx, world, enrolled, "end")
    # Queued before the end, sent after: it does not go.
    assert send.apply(args=[second.id]).get() == "cancelled"
    # And nothing new is queued for her: no reply emails, no digest.
    add_comment(db.session, world.coach.id, post.id, "Still here?")
    assert db.session.query(OutboxEmail).filter_by(template="community_reply").count() == 2
    from programs.community.digest import send_weekly_digest

    send_weekly_digest(db.session)
    digests = db.session.query(OutboxEmail).filter_by(template="community_digest").all()
    assert world.runner_a.email not in {row.to_email for row in digests}
