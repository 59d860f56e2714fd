"""The coach's exercise swap, for a client with knee pain: the menu never offers, and the swap
never accepts, a knee-dominant or impact move (squats, lunges, step-downs, hops)."""

from __future__ import annotations

import re
from datetime import datetime

import time_machine

from programs.engine import load_library
from programs.plans import active_plan, load_plan

LOADING = {"knee_dominant", "impact"}


def test_swap_menu_never_offers_knee_loading_or_impact_moves_for_a_sore_knee(
    client, auth, db_session, coach, planned_runner
):
    lib = load_library()
    plan = load_plan(active_plan(db_session, planned_runner.id))
    assert plan.profile.pain_area == "knee"
    # Not vacuous: she owns what a squat and a skater hop need.
    needs = {lib["bodyweight-squat"].equipment, lib["skater-hop"].equipment}
    assert needs <= plan.profile.equipment
    with time_machine.travel(datetime(2030, 3, 5, 12, 0), tick=False):
        auth.login(coach)
        html = client.get(f"/coach/clients/{planned_runner.id}").data.decode()
    menus = re.findall(r'<select[^>]*name="replacement".*?</select>', html, re.S)
    offered = {v for menu in menus for v in re.findall(r'<option value="([^"]+)"', menu)}
    assert offered  # the menu is there, with real choices
    assert all(not lib[ex_id].tags & LOADING for ex_id in offered), offered


def test_swap_post_refuses_a_knee_loading_or_impact_move_for_a_sore_knee(
    client, auth, db_session, coach, planned_runner
):
    uid = planned_runner.id
    plan = load_plan(active_plan(db_session, uid))
    lib = load_library()
    cases = []
    for s in plan.sessions:
        for item in s.items + s.block:
            if item.direction == "extension" and not any(c[2] == "bodyweight-squat" for c in cases):
                cases.append((s, item, "bodyweight-squat"))
            if item.direction == "abduction" and not any(c[2] == "skater-hop" for c in cases):
                cases.append((s, item, "skater-hop"))
    assert {c[2] for c in cases} == {"bodyweight-squat", "skater-hop"}
    with time_machine.travel(datetime(2030, 3, 5, 12, 0), tick=False):
        auth.login(coach)
        for s, item, bad in cases:
            assert lib[bad].direction == item.direction
            r = client.post(
                f"/coach/clients/{uid}/swap",
                data={
                    "session_date": s.date.isoformat(),
                    "kind": s.kind,
                    "exercise_id": item.exercise_id,
                    "replacement": bad,
                },
            )
            assert r.status_code == 422, bad
    db_session.expire_all()
    record = active_plan(db_session, uid)
    assert not record.coach_edits
    ids = {i.exercise_id for s in load_plan(record).sessions for i in s.items + s.block}
    assert not ids & {"bodyweight-squat", "skater-hop"}
