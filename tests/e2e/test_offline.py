"""The runner's phone with no signal: Today, this week and the timer open from the service
worker's copy; a log made offline waits on the phone and is saved once when the signal returns;
logging out forgets everything the phone kept."""

from __future__ import annotations

import json

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect
from sqlalchemy import select

from crm.time import utcnow, zone
from extensions import db
from programs.intake import submit_intake
from programs.models import WorkoutLog
from tests.e2e.conftest import PHONE
from tests.e2e.helpers import login, no_sideways_scroll
from tests.factories import create_user, intake_values

TZ = "America/Los_Angeles"


def _logs(user_id: int) -> list[WorkoutLog]:
    db.session.expire_all()
    return db.session.scalars(select(WorkoutLog).where(WorkoutLog.user_id == user_id)).all()


def _cached(page, path: str) -> bool:
    return page.evaluate("async (path) => !!(await caches.match(path, {ignoreVary: true}))", path)


def test_today_week_and_timer_work_offline_and_the_log_is_saved_once(
    live_server, browser, shots, db_session
):
    runner = create_user(db_session, role="runner", first_name="Maya", timezone=TZ)
    today = utcnow().astimezone(zone(TZ)).date()
    wd = today.weekday()
    days = sorted({wd, (wd + 2) % 7, (wd + 4) % 7})
    submit_intake(
        db_session,
        runner.id,
        intake_values(today, days=days, long_run_day=wd, timezone=TZ),
    )
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        login(page, live_server, runner.email)
        page.wait_for_url("**/portal")
        # The worker installs and keeps Today, this week and the files they use.
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        week_href = page.get_by_role("link", name="This week").get_attribute("href")
        page.wait_for_function(
            "async (week) => !!(await caches.match('/portal', {ignoreVary: true}))"
            " && !!(await caches.match(week, {ignoreVary: true}))",
            arg=week_href,
        )
        manifest = page.evaluate(
            "fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
        )
        assert manifest["start_url"] == "/portal" and manifest["display"] == "standalone"
        assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}

        context.set_offline(True)
        page.goto(live_server + "/portal")
        expect(page.get_by_text("No signal: this is your plan as last synced")).to_be_visible()
        shots(page, "offline-today")
        page.get_by_role("link", name="This week").click()
        page.wait_for_url(f"**{week_href}")
        expect(page.locator("h1").first).to_be_visible()
        no_sideways_scroll(page)
        shots(page, "offline-week")
        # The worker is offline too: a page it never kept falls back to the last Today.
        page.goto(live_server + "/portal/day/2099-01-01")
        assert page.locator("h1").first.text_content().strip() == "Today"
        page.goto(live_server + "/portal")

        # The timer runs on the phone.
        start = page.locator("[data-count]").text_content()
        page.get_by_role("button", name="Start").click()
        assert page.locator("[data-phase]").text_content() == "Warm-up walk"
        page.wait_for_function(
            "(start) => document.querySelector('[data-count]').textContent !== start", arg=start
        )
        page.get_by_role("button", name="Pause").click()
        assert page.locator("[data-count]").text_content() < start  # "4:58" < "5:00"

        # The log waits on the phone.
        page.click("label[for=status-run_walk-done]")
        page.click("label[for=effort-run_walk-5]")
        page.click("label[for=pain_during-run_walk-1]")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("1 log is waiting on your phone")).to_be_visible()
        expect(page.get_by_role("button", name="Saved on your phone")).to_be_visible()
        shots(page, "offline-logged")
        assert _logs(runner.id) == []
        waiting = page.evaluate("localStorage.getItem('hero-offline-logs')")

        # Signal again: sent, saved, announced.
        context.set_offline(False)
        page.wait_for_selector("text=Your log from offline saved.")
        expect(page.get_by_text("✓ Done").first).to_be_visible()
        shots(page, "online-saved")
        saved = _logs(runner.id)
        assert len(saved) == 1 and saved[0].effort == 5 and saved[0].pain_during == 1
        assert saved[0].client_id == json.loads(waiting)[0]["log"]["client_id"]

        # The phone never heard back and sends it again: still one log.
        page.evaluate("(raw) => localStorage.setItem('hero-offline-logs', raw)", waiting)
        page.reload()
        page.wait_for_selector("text=Your log from offline saved.")
        assert len(_logs(runner.id)) == 1
        assert page.evaluate("localStorage.getItem('hero-offline-logs')") == "[]"

        # Only her own portal pages and files are kept: not the progress page, not the API.
        page.goto(live_server + "/portal/progress")
        kept = page.evaluate(
            "async () => { const c = await caches.open('hero-pages-v1');"
            " return (await c.keys()).map(r => new URL(r.url).pathname); }"
        )
        assert kept and all(p.startswith("/portal") for p in kept)
        assert "/portal/progress" not in kept

        # Logging out forgets the pages, the queue and the worker.
        seen: list[str] = []  # what the page said, should the logout not leave (a rare CI stall)
        page.on("console", lambda message: seen.append(f"console: {message.text}"))
        page.on("dialog", lambda box: (seen.append(f"dialog: {box.message}"), box.dismiss()))
        page.on("pageerror", lambda error: seen.append(f"error: {error}"))
        page.click("button.navbar-toggler")
        # The menu fully open (Bootstrap drops "collapsing"), so the click meets a still button.
        page.wait_for_selector("#nav.collapse.show")
        page.get_by_role("button", name="Log out").click()
        try:
            page.wait_for_url(lambda url: "/portal" not in url)
        except PlaywrightTimeoutError as stalled:
            shots(page, "logout-stalled")
            said = f"logout did not leave {page.url}; the page said: {seen}"
            raise AssertionError(said) from stalled
        assert page.evaluate("caches.keys()") == []
        page.wait_for_function(
            "navigator.serviceWorker.getRegistrations().then(r => r.length === 0)", timeout=5000
        )
        assert not _cached(page, "/portal")
    finally:
        context.close()
