"""The runner's portal on a 375-px phone: intake → plan → today's interval timer through two
segment changes → the ten-second log; and the coach's client page on a desktop."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from crm.time import utcnow, zone
from tests.e2e.helpers import login, no_sideways_scroll
from tests.factories import create_user

TZ = "America/Los_Angeles"


def test_runner_makes_a_plan_runs_the_timer_and_logs_it(
    live_server, phone, desktop, shots, db_session
):
    runner = create_user(db_session, role="runner", first_name="Maya", timezone=TZ)
    today = utcnow().astimezone(zone(TZ)).date()
    page = phone
    # A controllable clock for the timer: fast_forward moves Date.now() and fires timers.
    page.clock.install()
    login(page, live_server, runner.email)
    page.wait_for_url("**/portal")
    expect(page.get_by_role("link", name="Start your intake")).to_be_visible()
    page.get_by_role("link", name="Start your intake").click()

    # Intake: can run 1 minute, trains today and every other day, owns a band.
    page.check("input[name=ability][value=run_minutes]")
    page.fill("input[name=run_minutes]", "1")
    weekdays = sorted({today.weekday(), (today.weekday() + 2) % 7, (today.weekday() + 4) % 7})
    for wd in weekdays:
        page.click(f"label[for=day-{wd}]")
    page.select_option("select[name=long_run_day]", str(today.weekday()))
    page.check("input[name=equipment][value=band]")
    page.check("input[name=pain_area][value=knee]")
    page.select_option("select[name=pain_level]", "2")
    page.fill("input[name=start_date]", today.isoformat())
    page.select_option("select[name=race_type]", "rundisney")
    expect(page.get_by_text("16 minutes per mile").first).to_be_visible()
    page.fill("input[name=race_date]", (today + timedelta(days=84)).isoformat())
    no_sideways_scroll(page)
    shots(page, "intake")
    page.get_by_role("button", name="Make my plan").click()
    page.wait_for_url("**/portal/plan")
    expect(page.get_by_text("Week 1", exact=False).first).to_be_visible()
    no_sideways_scroll(page)
    shots(page, "plan")

    # Today: a run/walk with the timer.
    # On a phone the nav is collapsed behind the toggler.
    page.click("button.navbar-toggler")
    page.get_by_role("link", name="Today").click()
    page.wait_for_url("**/portal")
    timer = page.locator("[data-timer]")
    expect(timer).to_be_visible()
    assert page.locator("[data-phase]").text_content() == "Ready"
    no_sideways_scroll(page)
    shots(page, "today")
    page.get_by_role("button", name="Start").click()
    assert page.locator("[data-phase]").text_content() == "Warm-up walk"
    assert timer.get_attribute("data-segment-index") == "0"
    page.clock.fast_forward("05:01")  # warm-up over: first run
    page.wait_for_function("document.querySelector('[data-timer]').dataset.segmentIndex === '1'")
    assert page.locator("[data-phase]").text_content() == "Run"
    shots(page, "timer-run")
    page.get_by_role("button", name="Pause").click()
    paused_at = page.locator("[data-count]").inner_text()
    page.clock.fast_forward("01:00")
    assert page.locator("[data-count]").inner_text() == paused_at  # paused: time stands still
    page.get_by_role("button", name="Resume").click()
    run_seconds = int(timer.evaluate("el => el.heroTimer.segments[1].seconds"))
    page.clock.fast_forward(f"00:{run_seconds + 1:02d}")  # the run is over: walk
    page.wait_for_function("document.querySelector('[data-timer]').dataset.segmentIndex === '2'")
    assert page.locator("[data-phase]").text_content() == "Walk"
    shots(page, "timer-walk")

    # The ten-second log.
    page.click("label[for=status-run_walk-done]")
    page.click("label[for=effort-run_walk-5]")
    page.click("label[for=pain_during-run_walk-1]")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/portal#log")
    expect(page.get_by_text("Logged. Nice work!")).to_be_visible()
    expect(page.get_by_text("✓ Done").first).to_be_visible()
    shots(page, "logged")

    page.goto(live_server + "/portal/progress")
    expect(page.locator("svg.chart-svg").first).to_be_visible()
    no_sideways_scroll(page)
    shots(page, "progress")
    page.goto(live_server + "/portal/week")
    no_sideways_scroll(page)
    shots(page, "week")

    # The same pages on a desktop.
    login(desktop, live_server, runner.email)
    for path, name in (
        ("/portal", "today"),
        ("/portal/plan", "plan"),
        ("/portal/progress", "progress"),
    ):
        desktop.goto(live_server + path)
        shots(desktop, f"desktop-{name}")


def test_coach_sees_the_client_and_her_log_on_a_desktop(
    live_server, desktop, phone, shots, db_session
):
    from programs.intake import submit_intake
    from programs.logs import record_workout
    from programs.plans import active_plan, load_plan

    coach = create_user(db_session, role="coach", first_name="Ali", email="coach@example.com")
    runner = create_user(db_session, role="runner", first_name="Maya", timezone=TZ)
    today = utcnow().astimezone(zone(TZ)).date()
    start = today - timedelta(days=7)
    submit_intake(
        db_session,
        runner.id,
        {
            "ability": "run_minutes",
            "run_minutes": 2,
            "days": [0, 2, 4, 5],
            "equipment": ["none", "band"],
            "pain_area": "knee",
            "pain_level": 3,
            "start_date": start,
            "timezone": TZ,
        },
    )
    plan = load_plan(active_plan(db_session, runner.id))
    for s in plan.weeks[0].sessions:
        record_workout(
            db_session, runner.id, s.date, "done", 6, 6 if s.kind == "run_walk" else 2, today=today
        )
    for page, label in ((desktop, "desktop"), (phone, "phone")):
        login(page, live_server, coach.email)
        page.goto(live_server + "/coach/clients")
        expect(page.get_by_role("link", name="Maya")).to_be_visible()
        shots(page, f"clients-{label}")
        page.get_by_role("link", name="Maya").click()
        expect(page.locator("#flags").get_by_text("6/10").first).to_be_visible()
        no_sideways_scroll(page)
        shots(page, f"client-{label}")
