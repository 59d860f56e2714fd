"""After a run/walk that is her first continuous 10, 20 or 30 minutes, the Today page offers a
one-click share with the community — to runners who have community access."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from programs.community.models import Post
from programs.logs import record_workout
from programs.plan_edits import set_intervals
from programs.progress import run_milestone
from tests.programs.community.conftest import enrol  # noqa: F401 - a fixture
from tests.programs.conftest import day
from tests.querycount import recorded_statements

SHARE = "Share this with the community"
RUN_DAYS = (2, 5, 9, 12)  # her plan's run/walk days (Wednesdays and Saturdays)


def _noon(offset: int):
    """Noon in New York (her time zone) on plan day ``offset``."""
    d = day(offset)
    return time_machine.travel(datetime(d.year, d.month, d.day, 17, 0, tzinfo=UTC), tick=False)


def _run(db_session, runner, offset: int, repeats: int, minutes: int, status: str = "done"):
    """Her coach sets that day's intervals, then she logs it."""
    set_intervals(db_session, runner.id, day(offset), repeats, minutes * 60, 60)
    record_workout(db_session, runner.id, day(offset), status, 6, 1, today=day(offset))


@pytest.fixture
def member(planned_runner, enrol):  # noqa: F811 - the imported fixture
    enrol(planned_runner)
    return planned_runner


def test_first_ten_minutes_offers_a_one_click_share_that_lands_in_the_community(
    client, auth, db_session, member
):
    _run(db_session, member, 2, 1, 10)
    with _noon(2):
        auth.login(member)
        html = client.get("/portal").text
        assert SHARE in html and "ran 10 minutes without walking" in html
        assert 'action="/community/milestones"' in html
        assert 'name="kind" type="hidden" value="continuous_10"' in html
        assert 'name="next" value="/portal"' in html

        r = client.post("/community/milestones", data={"kind": "continuous_10", "next": "/portal"})
        assert r.status_code == 302 and r.headers["Location"].endswith("/portal")
        post = db_session.scalar(select(Post).where(Post.author_id == member.id))
        assert post.milestone == "continuous_10"
        after = client.get("/portal").text
        assert SHARE not in after and "You shared this with the community" in after


def test_only_a_first_counts_and_each_new_distance_is_its_own_milestone(
    client, auth, db_session, member
):
    first, second, third, fourth = RUN_DAYS
    _run(db_session, member, first, 3, 5)  # 3 x 5 minutes: never 10 at once
    _run(db_session, member, second, 1, 10)
    _run(db_session, member, third, 2, 10)  # 10 again: not a first
    _run(db_session, member, fourth, 1, 20)
    assert run_milestone(db_session, member.id, day(first)) is None
    assert run_milestone(db_session, member.id, day(second)) == "continuous_10"
    assert run_milestone(db_session, member.id, day(third)) is None
    assert run_milestone(db_session, member.id, day(fourth)) == "continuous_20"
    with _noon(fourth):
        auth.login(member)
        assert 'value="continuous_20"' in client.get("/portal").text
        # Her earlier day still shows its own first, and the form returns her there.
        earlier = client.get(f"/portal/day/{day(second).isoformat()}").text
        assert 'value="continuous_10"' in earlier
        assert f'name="next" value="/portal/day/{day(second).isoformat()}"' in earlier
        assert SHARE not in client.get(f"/portal/day/{day(third).isoformat()}").text


def test_thirty_minutes_straight_away_is_the_thirty_minute_milestone(db_session, member):
    _run(db_session, member, 2, 1, 30)
    assert run_milestone(db_session, member.id, day(2)) == "continuous_30"


@pytest.mark.parametrize("status", ["partial", "skipped"])
def test_a_session_not_done_in_full_is_no_milestone(client, auth, db_session, member, status):
    _run(db_session, member, 2, 1, 10, status=status)
    assert run_milestone(db_session, member.id, day(2)) is None
    with _noon(2):
        auth.login(member)
        assert SHARE not in client.get("/portal").text


def test_no_share_offer_without_community_access(client, auth, db_session, planned_runner):
    _run(db_session, planned_runner, 2, 1, 10)
    assert run_milestone(db_session, planned_runner.id, day(2)) == "continuous_10"
    with _noon(2):
        auth.login(planned_runner)
        html = client.get("/portal").text
    assert "Your log" in html and SHARE not in html and "/community/milestones" not in html


def test_a_late_log_of_a_longer_run_earlier_takes_the_first_from_the_later_day(
    client, auth, db_session, member
):
    """A log sent late (from a phone offline that day) for an earlier day counts: the later day's
    10 minutes are no longer her first."""
    first, second = RUN_DAYS[:2]
    _run(db_session, member, second, 1, 10)
    assert run_milestone(db_session, member.id, day(second)) == "continuous_10"
    _run(db_session, member, first, 1, 12)  # logged after, for the day before
    assert run_milestone(db_session, member.id, day(first)) == "continuous_10"
    assert run_milestone(db_session, member.id, day(second)) is None
    with _noon(second):
        auth.login(member)
        assert SHARE not in client.get("/portal").text


def test_the_milestone_is_what_her_plan_asked_when_she_logged_it(db_session, member):
    """Her coach changing that day's intervals after she ran them does not rewrite her run."""
    _run(db_session, member, 2, 1, 10)
    set_intervals(db_session, member.id, day(2), 4, 4 * 60, 60)  # 4 x 4 minutes, afterwards
    assert run_milestone(db_session, member.id, day(2)) == "continuous_10"


def test_the_day_page_reads_her_milestone_with_her_day(client, auth, db_session, planned_runner):
    """The bench's runner: a run/walk of 10 minutes done today that is not her first. The day's
    one statement says so; nothing more is asked (no community membership, no shares)."""
    first, second = RUN_DAYS[:2]
    _run(db_session, planned_runner, first, 1, 10)
    _run(db_session, planned_runner, second, 1, 10)
    with _noon(second):
        auth.login(planned_runner)
        client.get("/portal")  # warm: the first visit's one-off work
        with recorded_statements() as seen:
            html = client.get("/portal").text
    assert "Your log" in html and SHARE not in html
    assert len(seen) == 2, seen  # the user; her plan, time zone, logs and their milestones
