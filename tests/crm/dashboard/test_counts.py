"""The dashboard's funnel and revenue come from counts beat keeps, shown with their time."""

from __future__ import annotations

from datetime import timedelta

from crm.dashboard.counts import STALE_AFTER, current_counts, refresh_counts
from crm.time import utcnow


def test_the_dashboard_reads_the_kept_counts_until_they_are_recounted(
    coach_client, db_session, make_lead
):
    make_lead(name="Early Bird", created_at=utcnow() - timedelta(days=1))
    first = coach_client.get("/coach").get_data(as_text=True)
    assert "Leads: 1" in first and "As of" in first
    make_lead(name="Late Comer", created_at=utcnow() - timedelta(hours=1))
    assert "Leads: 1" in coach_client.get("/coach").get_data(as_text=True)  # kept
    refresh_counts(db_session)  # what beat does every few minutes
    assert "Leads: 2" in coach_client.get("/coach").get_data(as_text=True)


def test_counts_older_than_the_stale_limit_are_recounted_by_the_visit(db_session, make_lead):
    now = utcnow()
    refresh_counts(db_session, now - STALE_AFTER - timedelta(minutes=1))
    make_lead(name="New", created_at=now - timedelta(hours=1))
    counts = current_counts(db_session, now)
    assert counts.as_of == now and counts.funnel[0].count == 1
    assert current_counts(db_session, now + timedelta(minutes=1)).as_of == now  # kept again


def test_beat_recounts_every_five_minutes(app):
    entry = app.extensions["celery"].conf.beat_schedule["dashboard-counts"]
    assert entry["task"] == "crm.dashboard.refresh_counts"
    assert "crm.dashboard.refresh_counts" in app.extensions["celery"].tasks
