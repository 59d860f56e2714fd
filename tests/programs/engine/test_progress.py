"""The engine's progress numbers from logged sessions."""

from datetime import timedelta

from programs.engine import Profile, generate_plan
from programs.engine.progress import adherence
from tests.programs.engine.test_flags import _row


def test_adherence_counts_partly_as_half_and_only_due_sessions():
    plan = generate_plan(
        Profile.from_dict({"ability": "walk_only", "days": [0, 2, 4], "start_date": "2030-03-04"})
    )
    s = plan.sessions
    logs = [_row(s[0].date, kind=s[0].kind), _row(s[1].date, "partial", kind=s[1].kind)]
    assert adherence(plan, logs, s[0].date - timedelta(days=1)) is None
    assert adherence(plan, logs, s[2].date) == 75  # (1 + 0.5) / 2
