"""Strength days end to end: the coach uploads a short video for an exercise (made here with
ffmpeg), the worker's job transcodes it with a poster; the runner opens her strength day on a
375-px phone, is guided through it (a hold, rests, a side switch, pause/resume, a reload), rates
two exercises, and next week's session shows what the feedback rules changed."""

from __future__ import annotations

import itertools
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from crm.time import utcnow, zone
from programs.demos import transcode_demo
from programs.engine import generate_plan, load_library
from programs.engine.model import STRENGTH
from programs.intake import _profile_from_values as intake_profile
from programs.intake import submit_intake
from programs.plans import active_plan, load_plan, sessions_on
from programs.strength_models import ExerciseMedia, MediaStatus
from tests.e2e.helpers import login, no_sideways_scroll
from tests.factories import create_user
from tests.programs.strength.media import make_video

TZ = "America/Los_Angeles"


def _strength_today(db_session, runner_id: int, today):
    """Her plan, with days, long-run day and start chosen so that today is a strength day of
    the first week (the long run is a run/walk: on a Sunday, the last of her days cannot be it)."""
    for long_run, shift, back in itertools.product(range(4), range(7), range(7)):
        days = sorted((today.weekday() + shift + k) % 7 for k in (0, 2, 4, 5))
        values = {
            "ability": "run_minutes",
            "run_minutes": 1,
            "days": days,
            "long_run_day": days[-1 - long_run],
            "equipment": ["none", "band"],
            "pain_area": "knee",
            "pain_level": 2,
            "start_date": today - timedelta(days=back),
            "timezone": TZ,
        }
        plan = generate_plan(intake_profile(values)[0])
        todays = [s for s in sessions_on(plan, today) if s.kind == STRENGTH]
        if todays and plan.weeks[0].start_date + timedelta(days=7) > today:
            submit_intake(db_session, runner_id, values)
            db_session.commit()
            plan = load_plan(active_plan(db_session, runner_id))
            return plan, next(s for s in sessions_on(plan, today) if s.kind == STRENGTH)
    raise AssertionError("no start date makes today a strength day")


def _run_step(page, seen: set[str]) -> None:
    """Do whatever the guide asks now: tap a set done, or let a hold or rest run out."""
    guide = page.locator("[data-guide]")
    step = guide.get_attribute("data-step")
    phase = guide.get_attribute("data-phase")
    if page.locator("[data-guide-done]").is_visible():
        seen.add("reps")
        page.locator("[data-guide-done]").click()
    else:
        seconds = int(page.evaluate(
            "() => { const g = document.querySelector('[data-strength]').heroGuide;"
            " return g.steps[g.state.index].seconds; }"
        ))  # fmt: skip
        seen.add("hold" if phase == "work" else phase)
        page.clock.fast_forward(seconds * 1000 + 500)
    page.wait_for_function(
        f"document.querySelector('[data-guide]').dataset.step !== '{step}'", timeout=5000
    )


def test_coach_video_then_guided_session_feedback_and_next_week_changes(
    live_server, phone, desktop, shots, db_session, tmp_path, uploads
):
    coach = create_user(db_session, role="coach", first_name="Ali", email="coach@example.com")
    runner = create_user(db_session, role="runner", first_name="Maya", timezone=TZ)
    today = utcnow().astimezone(zone(TZ)).date()
    plan, session = _strength_today(db_session, runner.id, today)
    filmed = session.items[0]

    # The coach films the first exercise on her phone and uploads it.
    video = tmp_path / "clip.mp4"
    make_video(video, seconds=2, size="640x480")
    login(desktop, live_server, coach.email)
    desktop.goto(f"{live_server}/coach/exercises/{filmed.exercise_id}")
    expect(
        desktop.locator(f"img[src$='/strength/drawings/{filmed.exercise_id}.svg']")
    ).to_be_visible()
    desktop.check("input[name=kind][value=video]")
    desktop.set_input_files("input[name=file]", str(video))
    desktop.get_by_role("button", name="Upload").click()
    desktop.wait_for_url(f"**/coach/exercises/{filmed.exercise_id}#demo")
    expect(desktop.locator("[data-demo-processing]")).to_be_visible()
    # A file that is not a video is refused on the form.
    (tmp_path / "notes.mp4").write_text("not a video at all")
    desktop.set_input_files("input[name=file]", str(tmp_path / "notes.mp4"))
    desktop.get_by_role("button", name="Upload").click()
    expect(desktop.locator("[data-demo-error]")).to_contain_text("not a video we can read")
    shots(desktop, "coach-refused")
    # The worker's job (the web request only queued it), run here.
    row = db_session.scalar(select(ExerciseMedia))
    assert transcode_demo.apply(args=[row.id, row.source_key]).get() == "ready"
    db_session.expire_all()
    row = db_session.get(ExerciseMedia, row.id)
    assert row.status == MediaStatus.READY
    desktop.goto(f"{live_server}/coach/exercises/{filmed.exercise_id}")
    player = desktop.locator("[data-demo-video]")
    assert player.get_attribute("poster").endswith(row.poster_key)
    assert desktop.evaluate(
        "async url => (await fetch(url, {headers: {Range: 'bytes=0-99'}})).status",
        player.get_attribute("src"),
    ) == 206  # fmt: skip
    assert desktop.evaluate(
        "el => new Promise(ok => { const img = new Image(); img.onload = () => ok(img.width);"
        " img.onerror = () => ok(0); img.src = el.poster; })",
        player.element_handle(),
    ) > 0  # fmt: skip
    shots(desktop, "coach-video")

    # The runner's strength day on her phone: each exercise shown, with dose and cue.
    page = phone
    page.clock.install()
    login(page, live_server, runner.email)
    page.goto(live_server + "/portal")
    cards = page.locator("[data-exercise]")
    assert cards.count() == len(session.items)
    first = cards.nth(0)
    assert first.locator("video").get_attribute("poster").endswith(row.poster_key)
    expect(first.get_by_text(filmed.cue)).to_be_visible()
    expect(cards.nth(1).locator("img.demo-drawing")).to_be_visible()
    no_sideways_scroll(page)
    shots(page, "strength-day")

    # The guided session, through every step.
    page.get_by_role("button", name="Start session").click()
    guide = page.locator("[data-guide]")
    expect(guide).to_be_visible()
    assert page.locator("[data-guide-name]").inner_text() == filmed.name
    seen: set[str] = set()
    paused = reloaded = False
    for _ in range(400):
        if guide.get_attribute("data-phase") == "done":
            break
        phase = guide.get_attribute("data-phase")
        if phase == "work" and not page.locator("[data-guide-done]").is_visible() and not paused:
            # A hold: pause it, time stands still, resume.
            shots(page, "guide-hold")
            page.get_by_role("button", name="Pause").click()
            count = page.locator("[data-guide-count]").inner_text()
            page.clock.fast_forward(30_000)
            assert page.locator("[data-guide-count]").inner_text() == count
            page.get_by_role("button", name="Resume").click()
            paused = True
        if phase == "switch" and not reloaded:
            shots(page, "guide-switch")
            assert "Switch to your right side" in page.locator("[data-guide-what]").inner_text()
            step = guide.get_attribute("data-step")
            page.reload()  # survives a reload
            assert page.locator("[data-guide]").get_attribute("data-step") == step
            reloaded = True
        if phase == "rest" and "rest" not in seen:
            shots(page, "guide-rest")
        _run_step(page, seen)
    assert guide.get_attribute("data-phase") == "done"
    assert {"reps", "hold", "rest", "switch"} <= seen and paused and reloaded
    no_sideways_scroll(page)

    # Rate two exercises: one too hard, one that hurt; plus the usual log.
    hard, hurt = session.items[1], session.items[2]
    assert page.locator("#status-strength-done").is_checked()  # the guide filled it in
    page.click(f"label[for=rating-{hard.exercise_id}-hard]")
    page.click(f"label[for=pain-{hard.exercise_id}-1]")
    page.click(f"label[for=rating-{hurt.exercise_id}-right]")
    page.click(f"label[for=pain-{hurt.exercise_id}-6]")
    page.click("label[for=effort-strength-6]")
    shots(page, "feedback")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/portal#log")
    expect(page.get_by_text("✓ Done").first).to_be_visible()

    # Next week's session A shows the rules' changes.
    next_week = session.date + timedelta(days=7)
    page.goto(f"{live_server}/portal/day/{next_week.isoformat()}")
    names = page.locator("[data-exercise] h3").all_inner_texts()
    planned = next(s for s in sessions_on(plan, next_week) if s.kind == STRENGTH)
    assert not any(hurt.name in n for n in names)  # swapped for another she tolerates
    assert len(names) == len(planned.items)
    hard_card = page.locator(f"[data-exercise='{hard.exercise_id}']")
    if hard_card.count():  # no easier variant: one step less of it
        old = next(i for i in planned.items if i.exercise_id == hard.exercise_id)
        less = f"{old.sets} × {old.reps - 2} reps" if old.reps else f"{old.seconds - 10} s hold"
        assert less in hard_card.inner_text()
    else:
        assert _easier_name(hard.exercise_id) in " ".join(names)
    no_sideways_scroll(page)
    shots(page, "next-week")

    # The coach sees, per exercise, what she did, how it felt and what changed.
    desktop.goto(f"{live_server}/coach/clients/{runner.id}")
    panel = desktop.locator("#strength")
    expect(panel.get_by_text(hurt.name).first).to_be_visible()
    assert "6/10" in panel.inner_text() and "Too hard" in panel.inner_text()
    assert "swapped for" in panel.inner_text()
    shots(desktop, "coach-client-strength")


def _easier_name(exercise_id: str) -> str:
    lib = load_library()
    return lib[lib[exercise_id].easier].name
