"""The weekly check-in end to end: beat's `programs.coaching.send_weekly_checkins` run by a real
Celery worker whose clock says Sunday evening, the emails caught by a real SMTP server, the link
opened in the app."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.leads.services import set_automation_paused
from extensions import db
from programs.coaching.checkins import read_checkin_token
from tasks.consent import suppress_address
from tasks.models import EmailStatus, OutboxEmail, SuppressionReason
from tests.peers import Worker, purge_queue

# Sunday 3 November 2030 at 18:00:30 in Los Angeles, the evening after the clocks fell back
# (19:00:30 in Denver): the worker's clock starts here and ticks on.
SUNDAY_EVENING = datetime(2030, 11, 4, 2, 0, 30, tzinfo=UTC)
LA_18H = datetime(2030, 11, 4, 2, 0, tzinfo=UTC)
DENVER_18H = datetime(2030, 11, 4, 1, 0, tzinfo=UTC)
WEEK = "2030-W44"
PLAN_START = SUNDAY_EVENING.date() - timedelta(days=14)
# Its own (per pytest-xdist worker): the suite's worker (real clock) never takes these tasks.
QUEUE = f"hero-test-checkins{os.environ.get('PYTEST_XDIST_WORKER', '')}"
LINK = re.compile(r"http://localhost(/checkin/[\w.-]+)")


@pytest.fixture(scope="module")
def sunday_worker(app, smtp_server):
    purge_queue(app, QUEUE)
    worker = Worker(app, smtp_server, queue=QUEUE, clock=SUNDAY_EVENING)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def checkin_peers(sunday_worker, smtp_server, app_ctx):
    """The Sunday-evening worker and an empty SMTP server for one test."""
    if not sunday_worker.alive():
        sunday_worker.start()
    smtp_server.reset()
    yield sunday_worker, smtp_server
    sunday_worker.drain()  # idle before the tables are emptied
    print(f"--- celery worker log (tail) ---\n{sunday_worker.tail()}")  # shown when a test fails


def _dispatch(worker: Worker) -> None:
    """One beat run of the check-ins, and everything it enqueued, done."""
    worker.run_task("programs.coaching.send_weekly_checkins")
    worker.drain()  # the dispatch ran and published its send tasks…
    worker.drain()  # …which were ahead of this marker: sent (the solo worker runs its queue FIFO)


def _checkin_rows() -> dict[str, OutboxEmail]:
    db.session.rollback()  # a fresh snapshot of what the worker wrote
    rows = db.session.scalars(select(OutboxEmail).where(OutboxEmail.template == "weekly_checkin"))
    return {row.to_email: row for row in rows}


def test_each_client_gets_one_checkin_whose_link_opens_her_form(checkin_peers, client, make_client):
    worker, smtp = checkin_peers
    runners = {
        "ana@example.com": make_client(PLAN_START, email="ana@example.com", first_name="Ana"),
        "bea@example.com": make_client(PLAN_START, email="bea@example.com", first_name="Bea"),
        "cleo@example.com": make_client(
            PLAN_START, email="cleo@example.com", first_name="Cleo", timezone="America/Denver"
        ),
    }

    _dispatch(worker)

    assert sorted(m["To"] for m in smtp.messages) == sorted(runners)
    rows = _checkin_rows()
    assert {to: (row.status, row.due_at) for to, row in rows.items()} == {
        "ana@example.com": (EmailStatus.SENT, LA_18H),
        "bea@example.com": (EmailStatus.SENT, LA_18H),
        "cleo@example.com": (EmailStatus.SENT, DENVER_18H),
    }
    for address, runner in runners.items():
        [message] = smtp.to(address)
        assert message["Subject"] == f"{runner.first_name}, how did this week go?"
        assert message["Message-ID"] == rows[address].message_id
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        assert text.startswith(f"Hi {runner.first_name},")
        [path] = LINK.findall(text)
        assert f"http://localhost{path}" in html
        # Opened that evening: the signed link names her and this week, and shows the form.
        with time_machine.travel(SUNDAY_EVENING + timedelta(minutes=5), tick=False):
            link = read_checkin_token(path.removeprefix("/checkin/"))
            page = client.get(path)
        assert (link.user_id, link.week) == (runner.id, WEEK)
        assert page.status_code == 200
        body = page.get_data(as_text=True)
        assert "How did this week go?" in body and f"Week {WEEK}" in body
        assert 'name="pain"' in body and 'name="confidence"' in body


def test_client_who_stopped_her_emails_gets_no_checkin(
    checkin_peers, db_session, make_client, make_lead, coach
):
    worker, smtp = checkin_peers
    make_client(PLAN_START, email="keen@example.com")
    make_client(PLAN_START, email="spam@example.com")
    make_client(PLAN_START, email="blocked@example.com")
    paused = make_client(PLAN_START, email="paused@example.com")
    # She reported an earlier email as spam; the coach blocked another address by hand.
    suppress_address(db_session, "spam@example.com", SuppressionReason.COMPLAINED)
    suppress_address(db_session, "blocked@example.com", SuppressionReason.MANUAL)
    # The coach paused the automatic emails on this one's lead.
    lead = make_lead(email="paused@example.com", user_id=paused.id)
    set_automation_paused(db_session, lead.id, True, actor_id=coach.id)

    _dispatch(worker)

    assert [m["To"] for m in smtp.messages] == ["keen@example.com"]
    statuses = {to: row.status for to, row in _checkin_rows().items()}
    assert statuses == {
        "keen@example.com": EmailStatus.SENT,
        "spam@example.com": EmailStatus.SUPPRESSED,
        "blocked@example.com": EmailStatus.SUPPRESSED,
        "paused@example.com": EmailStatus.CANCELLED,  # re-checked at send time
    }


def test_dispatching_again_the_same_evening_sends_nothing_more(checkin_peers, make_client):
    worker, smtp = checkin_peers
    make_client(PLAN_START, email="ana@example.com")
    make_client(PLAN_START, email="bea@example.com")

    # Two runs back to back (a beat restarted mid-tick), then the next quarter-hour's run.
    worker.run_task("programs.coaching.send_weekly_checkins")
    _dispatch(worker)
    smtp.wait_for(2)
    _dispatch(worker)

    assert sorted(m["To"] for m in smtp.messages) == ["ana@example.com", "bea@example.com"]
    rows = _checkin_rows()
    assert sorted(rows) == ["ana@example.com", "bea@example.com"]
    assert all(row.attempts == 1 for row in rows.values())
