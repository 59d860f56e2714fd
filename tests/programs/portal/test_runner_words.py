"""What a runner reads, rendered for real: the portal's pages and her emails carry no engine
words (rung, step index, rule and enum names) and no stray punctuation, and the week counts and
the goal picture agree with her plan."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import select

from programs.coaching.checkins import queue_weekly_checkins
from programs.coaching.nudges import queue_client_sequences
from programs.engine import RULES
from programs.logs import record_workout
from programs.plans import active_plan, load_plan
from tasks.models import OutboxEmail

LA = ZoneInfo("America/Los_Angeles")
START = date(2030, 10, 21)  # a Monday
RACE = date(2030, 12, 16)  # a Monday too: the weekday her plan starts on
ENGINE_WORDS = [
    r"\brung\b",
    r"\bstep index\b",
    r"\blevel_(from|to)\b",
    r"\brun_walk\b",
    r"\bwalk_only\b",
    r"\brun_minutes\b",
    r"\brun_5k\b",
    r"\bit_band\b",
    r"\brundisney\b",  # the race type's enum; "runDisney" is the brand
    r"\bNone\b",
    r"FlagKind|LogStatus|RUN_WALK",
    r" [.,;:](\s|$)",  # stray punctuation: "2026 ."
    *(re.escape(rule) for rule in RULES),
]


def at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LA).astimezone(UTC)


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r"<!--.*?-->", " ", page, flags=re.S)
    page = re.sub(r'\s(?:aria-label|title|alt)="([^"]*)"', r"> \1 <", page)
    page = re.sub(r"</?(strong|em|b|i|a|span|small|abbr|time)\b[^>]*>", "", page)  # inline
    page = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html_lib.unescape(page))


def engine_words(text: str) -> list[str]:
    return [w for w in ENGINE_WORDS if re.search(w, text, re.M)]


def test_runner_pages_and_emails_have_no_engine_words(client, auth, db_session, make_client):
    runner = make_client(
        START, race_date=RACE, race_type="rundisney", pain_area="knee", pain_level=4
    )
    plan = load_plan(active_plan(db_session, runner.id))
    # Week 1: pain 6/10 on a run, so the plan adapts and says why.
    for s in plan.weeks[0].sessions:
        pain = 6 if s.kind == "run_walk" else 1
        record_workout(db_session, runner.id, s.date, "done", 5, pain, today=START + timedelta(7))
    adapted = load_plan(active_plan(db_session, runner.id))
    assert adapted.changes  # not vacuous: an adaptation's words are on the pages
    texts = {}
    with time_machine.travel(at(START + timedelta(days=9)), tick=False):
        auth.login(runner)
        for url in ("/portal", "/portal/plan", "/portal/week", "/portal/progress"):
            r = client.get(url)
            assert r.status_code == 200, url
            texts[url] = visible_text(r.data.decode())
    with time_machine.travel(at(START + timedelta(days=13), hour=18), tick=False):
        queue_weekly_checkins(db_session)
    with time_machine.travel(at(RACE - timedelta(days=7)), tick=False):
        queue_client_sequences(db_session)
    db_session.expire_all()
    emails = list(
        db_session.scalars(select(OutboxEmail).where(OutboxEmail.to_email == runner.email))
    )
    assert {e.template for e in emails} >= {"weekly_checkin", "race_week"}
    for e in emails:
        texts[f"email {e.template}"] = f"{e.subject}\n{e.text}\n{visible_text(e.html or '')}"
    found = {where: engine_words(text) for where, text in texts.items()}
    assert not any(found.values()), found
    # The week count she reads is her plan's, and the adaptation says what happened.
    n = len(adapted.weeks)
    assert f"of your {n}-week plan" in texts["/portal"]
    assert f"Your plan: {n} weeks from" in texts["/portal/plan"]
    assert "Pain 6/10" in texts["/portal/plan"]


def test_progress_page_pictures_the_distance_to_her_goal(client, auth, db_session, make_client):
    runner = make_client(START)
    plan = load_plan(active_plan(db_session, runner.id))
    for s in plan.weeks[0].sessions:
        record_workout(db_session, runner.id, s.date, "done", 5, 0, today=START + timedelta(7))
    best = max(s.longest_run_seconds for s in plan.weeks[0].runs)
    with time_machine.travel(at(START + timedelta(days=9)), tick=False):
        auth.login(runner)
        page = client.get("/portal/progress").data.decode()
        plan_page = visible_text(client.get("/portal/plan").data.decode())
    assert not engine_words(plan_page), engine_words(plan_page)  # no race: no "2026 ."
    figure = re.search(r'<figure class="goal-progress.*?</figure>', page, re.S).group(0)
    svg = re.search(r"<svg.*?</svg>", figure, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg  # the picture has a text alternative
    title = visible_text(re.search(r"<title[^>]*>(.*?)</title>", svg, re.S).group(1))
    m, s = divmod(best, 60)
    assert f"Longest run without walking so far: {m}:{s:02d}." in title
    assert "Your goal: 30 minutes without walking." in title
    weeks_left = -(-(plan.sessions[-1].date - (START + timedelta(days=9))).days // 7)
    assert f"{weeks_left} weeks to go" in title and "You're on track." in title
    done = re.search(r'width="(\d+)" height="16" rx="8" class="goal-done"', svg)
    assert int(done.group(1)) == 3 * (100 * best // 1800)
    assert "<script" not in figure and "onclick" not in figure and "style=" not in figure
