"""The coach's exercise library: her exercises join the built-in ones everywhere a plan is made
or changed, through a form the engine validates."""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import replace

import pytest
from flask import url_for
from sqlalchemy import func, select

from crm.articles import render
from programs import library as library_module
from programs.engine.library import Library
from programs.intake import regenerate_plan, submit_intake
from programs.library import (
    coach_exercise,
    current_library,
    grid_gaps,
    library_coverage,
    save_coach_exercise,
)
from programs.models import CoachExercise
from programs.plan_edits import swap_options
from programs.plans import active_plan, load_plan
from tests.factories import intake_values
from tests.programs.conftest import TIMEZONE
from tests.programs.library.conftest import form_data


def _feedback(html: str, field: str) -> str:
    """The error text Bootstrap-Flask shows under one field (before the next field starts)."""
    after = html[html.index(f'id="{field}"') :]
    after = after[: after.find("<label", 1)] if "<label" in after[1:] else after
    return html_lib.unescape(
        " ".join(re.findall(r'class="invalid-feedback[^"]*"[^>]*>\s*([^<]*)', after))
    )


ENGINE_EXERCISE = {"id": "x", "name": "X", "instructions": "Do it.", "cue": "Well.",
                   "direction": "abduction", "knee": "straight", "position": "standing",
                   "equipment": "none",
                   "dose": {"sets": 2, "reps": 10, "per_side": True}}  # fmt: skip


def _count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(CoachExercise))


def test_added_exercise_is_listed_and_offered_as_a_swap_of_its_direction(
    client, db_session, coach_in, runner_with_plan
):
    r = client.post("/coach/exercises/new", data=form_data())
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/coach/exercises/wall-lean-side-raise")

    listed = client.get("/coach/exercises").data.decode()
    assert "Wall-lean side raise" in listed and "Clamshell" in listed  # hers and built-in
    assert "Wall-lean side raise" in client.get("/coach/exercises?direction=abduction").text
    assert "Wall-lean side raise" not in client.get("/coach/exercises?direction=flexion").text
    assert "Wall-lean side raise" not in client.get("/coach/exercises?equipment=band").text
    assert "Wall-lean side raise" in client.get("/coach/exercises?q=wall-lean").text

    uid = runner_with_plan.id
    plan = load_plan(active_plan(db_session, uid))
    strength = next(s for s in plan.sessions if s.kind == "strength")
    abduction = next(i for i in strength.items if i.direction == "abduction")
    flexion = next(i for i in strength.items if i.direction == "flexion")
    library = current_library(db_session)
    assert "wall-lean-side-raise" in [
        e.id for e in swap_options(plan, abduction.exercise_id, library)
    ]
    assert "wall-lean-side-raise" not in [
        e.id for e in swap_options(plan, flexion.exercise_id, library)
    ]
    assert "Wall-lean side raise" in client.get(f"/coach/clients/{uid}").text  # in the swap menu

    r = client.post(
        f"/coach/clients/{uid}/swap",
        data={"session_date": strength.date.isoformat(), "kind": "strength",
              "exercise_id": abduction.exercise_id, "replacement": "wall-lean-side-raise"},
    )  # fmt: skip
    assert r.status_code == 302
    after = load_plan(active_plan(db_session, uid))
    swapped = next(s for s in after.sessions if s.date == strength.date and s.kind == "strength")
    item = next(i for i in swapped.items if i.exercise_id == "wall-lean-side-raise")
    assert (item.sets, item.reps, item.per_side) == (2, 12, True)
    assert item.cue == "Toes point forward, not up."


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"reps": ""}, "reps", "Give exactly one of reps or seconds."),
        ({"seconds": "30"}, "reps", "Give exactly one of reps or seconds."),
        ({"sets": "9"}, "sets", "Must be a whole number from 1 to 5."),
        ({"reps": "", "seconds": "200"}, "seconds", "Must be a whole number from 5 to 120."),
        ({"name": "  "}, "name", "Is required and must be text."),
        ({"slug": "Wall Lean"}, "slug", "Must be a slug: lowercase letters, digits and dashes."),
        ({"slug": "clamshell"}, "slug", "Is a built-in exercise's id; pick another."),
        ({"easier": "no-such-exercise"}, "easier", "Must be an exercise in the library"),
        ({"harder": "seated-march"}, "harder", "Must train the same direction."),
        # The side-lying leg raise already leads on to its own harder variant: slot taken.
        ({"easier": "side-lying-leg-raise"}, "easier", "Side-lying leg raise already has"),
    ],
)
def test_invalid_exercise_is_shown_again_with_the_message_on_its_field_and_nothing_saved(
    client, db_session, coach_in, overrides, field, message
):
    r = client.post("/coach/exercises/new", data=form_data(**overrides))
    assert r.status_code == 422
    html = r.data.decode()
    assert "nothing was saved" in html
    assert message in _feedback(html, field)
    assert 'value="Wall-lean side raise"' in html or field == "name"  # her typing is kept
    assert _count(db_session) == 0


def test_every_bad_field_is_shown_at_once_beside_its_own_field_and_nothing_saved(
    client, db_session, coach_in
):
    data = form_data(name="  ", cue="", sets="9", reps="", seconds="")
    r = client.post("/coach/exercises/new", data=data)
    assert r.status_code == 422
    html = r.data.decode()
    assert "nothing was saved" in html
    assert _feedback(html, "name") == "Is required and must be text."
    assert _feedback(html, "cue") == "Is required and must be text."
    assert _feedback(html, "sets") == "Must be a whole number from 1 to 5."
    assert _feedback(html, "reps") == "Give exactly one of reps or seconds."
    assert _feedback(html, "slug") == "" and _feedback(html, "instructions") == ""
    # Her typing is kept.
    assert 'value="wall-lean-side-raise"' in html and 'value="9"' in html
    assert "Lean a shoulder on a wall" in html
    assert _count(db_session) == 0


def test_a_taken_id_is_shown_with_the_other_bad_fields(client, db_session, coach_in):
    r = client.post("/coach/exercises/new", data=form_data(slug="clamshell", name=""))
    assert r.status_code == 422
    html = r.data.decode()
    assert _feedback(html, "slug") == "Is a built-in exercise's id; pick another."
    assert _feedback(html, "name") == "Is required and must be text."
    assert _count(db_session) == 0


def test_both_bad_variant_links_are_shown_at_once(client, db_session, coach_in):
    data = form_data(easier="seated-march", harder="no-such-exercise")
    r = client.post("/coach/exercises/new", data=data)
    assert r.status_code == 422
    html = r.data.decode()
    assert _feedback(html, "easier") == "Must train the same direction."
    assert _feedback(html, "harder").startswith("Must be an exercise in the library")
    assert _count(db_session) == 0


def test_editing_with_two_bad_fields_shows_both_and_keeps_the_saved_exercise(
    client, db_session, coach_in
):
    assert client.post("/coach/exercises/new", data=form_data()).status_code == 302
    data = form_data(name="Renamed", instructions="", reps="", seconds="200")
    r = client.post("/coach/exercises/wall-lean-side-raise/edit", data=data)
    assert r.status_code == 422
    html = r.data.decode()
    assert _feedback(html, "instructions") == "Is required and must be text."
    assert _feedback(html, "seconds") == "Must be a whole number from 5 to 120."
    assert 'value="Renamed"' in html
    db_session.expire_all()
    row = coach_exercise(db_session, "wall-lean-side-raise")
    assert (row.name, row.reps, row.seconds) == ("Wall-lean side raise", 12, None)
    assert row.instructions.startswith("Lean a shoulder on a wall")


def test_reusing_one_of_her_own_ids_is_refused_on_the_id_field(client, db_session, coach_in):
    assert client.post("/coach/exercises/new", data=form_data()).status_code == 302
    r = client.post("/coach/exercises/new", data=form_data(name="Another"))
    assert r.status_code == 422
    assert "Is already used by one of your exercises" in r.text
    assert _count(db_session) == 1


def test_a_variant_link_is_made_both_ways_in_the_library(client, db_session, coach_in):
    # Banded clamshell has no harder variant yet, so hers can be it.
    banded = current_library(db_session)["banded-clamshell"]
    assert banded.harder is None
    data = form_data(slug="heavy-band-clamshell", name="Heavy-band clamshell",
                     direction=banded.direction, knee="bent", position="lying",
                     equipment="band", easier="banded-clamshell")  # fmt: skip
    assert client.post("/coach/exercises/new", data=data).status_code == 302
    library = current_library(db_session)
    assert library["banded-clamshell"].harder == "heavy-band-clamshell"
    assert library["heavy-band-clamshell"].easier == "banded-clamshell"
    page = client.get("/coach/exercises/banded-clamshell").text
    assert "Heavy-band clamshell" in page  # shown as the built-in's harder variant


def test_new_and_regenerated_plans_use_her_exercise_but_existing_plans_stay(
    client, db_session, coach_in, make_user
):
    gym = make_user(role="runner", email="gym@example.com")
    values = intake_values(
        timezone=TIMEZONE,
        ability="walk_only",
        run_minutes=None,
        pain_area="none",
        pain_level=0,
        equipment=["none", "machine"],
    )
    submit_intake(db_session, gym.id, values)
    before = active_plan(db_session, gym.id).plan
    data = form_data(
        slug="cable-hip-flexion",
        name="Cable hip flexion",
        direction="flexion",
        equipment="machine",
        instructions="Face away from a low cable; drive the knee forward.",
    )
    assert client.post("/coach/exercises/new", data=data).status_code == 302

    def uses(plan: dict) -> bool:
        return "cable-hip-flexion" in str(plan)

    assert not uses(before) and active_plan(db_session, gym.id).plan == before
    regenerated = regenerate_plan(db_session, gym.id)
    assert uses(regenerated.plan)
    # A runner without a gym never gets it.
    home = make_user(role="runner", email="home@example.com")
    submit_intake(db_session, home.id, {**values, "equipment": ["none", "band"]})
    assert not uses(active_plan(db_session, home.id).plan)


def test_switched_off_exercise_leaves_new_plans_and_can_come_back(
    client, db_session, coach_in, runner_with_plan
):
    assert client.post("/coach/exercises/new", data=form_data()).status_code == 302
    r = client.post("/coach/exercises/wall-lean-side-raise/deactivate")
    assert r.status_code == 302
    assert "wall-lean-side-raise" not in current_library(db_session)
    listed = client.get("/coach/exercises").text
    assert "Wall-lean side raise" in listed and "Switched off" in listed
    plan = load_plan(active_plan(db_session, runner_with_plan.id))
    item = next(i for s in plan.sessions for i in s.items if i.direction == "abduction")
    library = current_library(db_session)
    assert "wall-lean-side-raise" not in [
        e.id for e in swap_options(plan, item.exercise_id, library)
    ]

    assert client.post("/coach/exercises/wall-lean-side-raise/activate").status_code == 302
    assert "wall-lean-side-raise" in current_library(db_session)


def test_editing_keeps_the_id_and_changes_what_plans_get(client, db_session, coach_in):
    assert client.post("/coach/exercises/new", data=form_data()).status_code == 302
    form = client.get("/coach/exercises/wall-lean-side-raise/edit").text
    assert 'value="Wall-lean side raise"' in form
    r = client.post(
        "/coach/exercises/wall-lean-side-raise/edit",
        data=form_data(slug="renamed", name="Side raise at the wall", reps="15"),
    )
    assert r.status_code == 302
    ex = current_library(db_session)["wall-lean-side-raise"]
    assert (ex.name, ex.dose.reps) == ("Side raise at the wall", 15)
    assert "renamed" not in current_library(db_session)
    assert client.get("/coach/exercises/clamshell/edit").status_code == 404  # built-ins are fixed


def test_articles_embed_her_exercise(client, db_session, coach_in, app):
    assert client.post("/coach/exercises/new", data=form_data()).status_code == 302
    with app.test_request_context():
        html = render.render_body("[[exercise:wall-lean-side-raise]]", booking_url="/book")
        assert "Wall-lean side raise" in html and "Toes point forward" in html
        assert render.unknown_exercises("[[exercise:wall-lean-side-raise]]") == []
        assert url_for("exercises.exercise_list") == "/coach/exercises"


def test_coverage_grid_counts_cells_and_flags_a_missing_no_equipment_exercise(db_session):
    library = current_library(db_session)
    grid = library_coverage(library)
    assert all(cell.no_equipment >= 1 for row in grid.values() for cell in row.values())
    assert sum(cell.total for row in grid.values() for cell in row.values()) == len(library)
    from programs.engine.library import library_from_data

    one = library_from_data([{**ENGINE_EXERCISE, "equipment": "band"}])
    small = library_coverage(one)
    assert small["abduction"]["straight"].total == 1
    assert small["abduction"]["straight"].no_equipment == 0


def test_the_library_page_shows_the_grid_without_gaps_for_the_built_in_library(
    client, db_session, coach_in
):
    html = client.get("/coach/exercises").text
    assert "Knee straight" in html and "Knee bent" in html
    assert "coverage-gap" not in html  # every cell has a no-equipment exercise


ADMIN_URLS = [
    ("get", "/coach/exercises"),
    ("get", "/coach/exercises/new"),
    ("post", "/coach/exercises/new"),
    ("get", "/coach/exercises/clamshell"),
    ("get", "/coach/exercises/wall-lean-side-raise/edit"),
    ("post", "/coach/exercises/wall-lean-side-raise/deactivate"),
    ("post", "/coach/exercises/wall-lean-side-raise/activate"),
]


@pytest.mark.parametrize(("method", "url"), ADMIN_URLS)
def test_runners_are_refused_and_visitors_sent_to_log_in(
    client, auth, db_session, make_user, method, url
):
    save_coach_exercise(db_session, {**ENGINE_EXERCISE, "id": "wall-lean-side-raise"})
    r = getattr(client, method)(url, data=form_data() if method == "post" else None)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    auth.login(make_user(role="runner"))
    r = getattr(client, method)(url, data=form_data() if method == "post" else None)
    assert r.status_code == 403
    assert _count(db_session) == 1
    assert db_session.scalar(select(CoachExercise.active))


def test_the_library_page_shows_the_twelve_cell_grid_and_no_gap_warning_when_whole(
    client, db_session, coach_in
):
    html = client.get("/coach/exercises").text
    assert "twelve-cell hip grid" in html
    assert 'id="grid-gaps"' not in html
    assert grid_gaps(current_library(db_session)) == []


def test_the_library_page_warns_when_her_switched_off_exercise_breaks_the_grid(
    client, db_session, coach_in, monkeypatch
):
    """With a library whose only equipment-free moves for abduction with the knee straight are
    hers, switching hers off leaves the cell short: the page says so and names it."""
    base = library_module.load_library()
    kept = [
        e
        for e in base.exercises
        if not (e.direction == "abduction" and e.knee == "straight" and e.equipment == "none")
    ]
    ids = {e.id for e in kept}
    thin = Library(
        tuple(
            replace(
                e,
                easier=e.easier if e.easier in ids else None,
                harder=e.harder if e.harder in ids else None,
            )
            for e in kept
        )
    )
    monkeypatch.setattr(library_module, "load_library", lambda *a, **k: thin)
    library_module._library_for.cache_clear()
    try:
        assert client.post("/coach/exercises/new", data=form_data()).status_code == 302
        second = form_data(slug="wall-side-raise-hold", name="Wall side-raise hold")
        assert client.post("/coach/exercises/new", data=second).status_code == 302
        assert 'id="grid-gaps"' not in client.get("/coach/exercises").text
        assert client.post("/coach/exercises/wall-side-raise-hold/deactivate").status_code == 302
        html = client.get("/coach/exercises").text
        warning = html[html.index('id="grid-gaps"') :].split("</div>")[0]
        assert "knee straight: only Wall-lean side raise" in warning
        assert "Switched off here: Wall side-raise hold" in warning
    finally:
        library_module._library_for.cache_clear()
