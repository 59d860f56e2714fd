"""The engine's flag rules: what the coach hears about, from logged sessions alone."""

from datetime import date, timedelta

from programs.engine.flags import MISSED, PAIN, compute_flags
from programs.engine.progress import SessionLog


def _row(d: date, status="done", pain=0, morning=None, kind="run_walk"):
    return SessionLog(
        session_date=d,
        kind=kind,
        status=status,
        pain_during=None if status == "skipped" else pain,
        pain_next_morning=morning,
    )


D = date(2030, 3, 4)
PLANNED = [(D + timedelta(days=o), "run_walk") for o in (0, 2, 4, 7, 9, 11, 14)]


def test_flags_pain_over_her_threshold_only():
    found = compute_flags(
        [_row(D, pain=4), _row(D + timedelta(days=2), pain=2, morning=6)],
        PLANNED,
        D,
        D + timedelta(days=3),
        4,
    )
    assert [(f.kind, f.key) for f in found] == [(PAIN, "pain:2030-03-06:run_walk")]
    assert "next morning" in found[0].reason


def test_flags_two_missed_sessions_in_a_row_once():
    logs = [_row(D), _row(D + timedelta(days=2), status="skipped")]
    found = compute_flags(logs, PLANNED, D, D + timedelta(days=9), 5)
    missed = [f for f in found if f.kind == MISSED]
    assert len(missed) == 1 and missed[0].key == "missed:2030-03-06"
    assert "Missed 3 sessions" in missed[0].reason  # skipped Wed, unlogged Fri and Mon


def test_one_missed_session_is_not_a_flag():
    logs = [_row(D), _row(D + timedelta(days=2), status="skipped"), _row(D + timedelta(days=4))]
    found = compute_flags(logs, PLANNED, D, D + timedelta(days=5), 5)
    assert not [f for f in found if f.kind == MISSED]


def test_flags_a_silent_week():
    logs = [_row(D)]
    assert not [
        f for f in compute_flags(logs, [], D, D + timedelta(days=6), 5) if f.kind == "silent"
    ]
    silent = [f for f in compute_flags(logs, [], D, D + timedelta(days=7), 5) if f.kind == "silent"]
    assert silent and silent[0].key == "silent:2030-03-04" and "7 days" in silent[0].reason
