from icalendar import Calendar

from programs.calendar import calendar_secret
from programs.plan_edits import skip_session
from programs.plans import active_plan, load_plan


def test_calendar_feed_parses_and_lists_every_session(client, db_session, planned_runner):
    secret = calendar_secret(db_session, planned_runner.id)
    response = client.get(f"/portal/calendar/{secret}.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    cal = Calendar.from_ical(response.data)
    events = list(cal.walk("VEVENT"))
    plan = load_plan(active_plan(db_session, planned_runner.id))
    assert len(events) == len(plan.sessions)
    first = events[0]
    assert first.decoded("dtstart") == plan.sessions[0].date
    assert str(first["summary"]) == plan.sessions[0].title
    assert plan.sessions[0].why in str(first["description"])
    assert len({str(e["uid"]) for e in events}) == len(events)


def test_calendar_follows_coach_edits(client, db_session, planned_runner):
    from tests.programs.conftest import day

    secret = calendar_secret(db_session, planned_runner.id)
    skip_session(db_session, planned_runner.id, day(2), "run_walk")
    cal = Calendar.from_ical(client.get(f"/portal/calendar/{secret}.ics").data)
    assert day(2) not in [e.decoded("dtstart") for e in cal.walk("VEVENT")]
