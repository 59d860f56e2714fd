"""The progress picture on a phone and a desktop, and the coach's twelve-cell grid."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from crm.time import utcnow, zone
from tests.e2e.helpers import login, no_sideways_scroll
from tests.factories import create_user

TZ = "America/Los_Angeles"


def test_progress_page_pictures_the_goal_on_phone_and_desktop(
    live_server, phone, desktop, shots, db_session
):
    from programs.intake import submit_intake
    from programs.logs import record_workout
    from programs.plans import active_plan, load_plan

    runner = create_user(db_session, role="runner", first_name="Maya", timezone=TZ)
    today = utcnow().astimezone(zone(TZ)).date()
    start = today - timedelta(days=15)
    submit_intake(
        db_session,
        runner.id,
        {
            "ability": "run_minutes",
            "run_minutes": 3,
            "days": [0, 2, 4, 5],
            "equipment": ["none", "band"],
            "pain_area": "hip",
            "pain_level": 3,
            "start_date": start,
            "race_date": start + timedelta(weeks=10),
            "race_type": "rundisney",
            "timezone": TZ,
        },
    )
    plan = load_plan(active_plan(db_session, runner.id))
    for s in plan.sessions:
        if s.date < today - timedelta(days=1):
            record_workout(db_session, runner.id, s.date, "done", 5, 2, today=today)
    for page, label in ((phone, "phone"), (desktop, "desktop")):
        login(page, live_server, runner.email)
        page.goto(live_server + "/portal/progress")
        picture = page.get_by_role("img", name="Most running in one session so far")
        expect(picture).to_be_visible()
        assert "Race day asks for" in page.locator(".goal-progress p").inner_text()
        no_sideways_scroll(page)
        shots(page, f"{label}-progress")
        page.goto(live_server + "/portal/plan")
        rehearsal_week = page.locator("details", has_text="Dress rehearsal").first
        if rehearsal_week.get_attribute("open") is None:  # later weeks are folded; she opens it
            rehearsal_week.locator("summary").first.click()
        expect(rehearsal_week.get_by_text("Dress rehearsal").first).to_be_visible()
        no_sideways_scroll(page)
        shots(page, f"{label}-plan")


def test_coach_library_page_shows_the_twelve_cell_grid(
    live_server, desktop, phone, shots, db_session
):
    coach = create_user(db_session, role="coach", first_name="Ali", email="coach@example.com")
    for page, label in ((desktop, "desktop"), (phone, "phone")):
        login(page, live_server, coach.email)
        page.goto(live_server + "/coach/exercises")
        expect(
            page.get_by_role("heading", name="Coverage: the twelve-cell hip grid")
        ).to_be_visible()
        shots(page, f"{label}-library")
