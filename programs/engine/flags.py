"""What the coach should hear about, from what the runner logged. Pure: logs in, findings out.

* pain: a session logged with pain during or next morning above her threshold;
* missed: two planned sessions in a row, in the last 14 days, skipped or not logged by the day
  after (a day's grace to log); one finding per run of misses, however long;
* silent: no log for ``SILENT_DAYS`` days once the plan has been running that long.

Each finding has a stable ``key``, so the app raises each flag once however often it looks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from .model import RUN_WALK
from .progress import SKIPPED, SessionLog
from .words import short_date

SILENT_DAYS = 7
PAIN, MISSED, SILENT = "pain", "missed", "silent"


@dataclass(frozen=True)
class Finding:
    kind: str  # pain, missed or silent
    key: str
    reason: str


def compute_flags(
    logs: Sequence[SessionLog],
    planned: Sequence[tuple[date, str]],
    watch_from: date,
    on_date: date,
    threshold: int,
) -> list[Finding]:
    """Pure: what the coach should hear about, from the logs and the planned (day, kind) list.

    ``watch_from`` is the first day the runner could have followed the plan (its start, or the
    day it was made if later): nothing before it counts as missed or silent.

    * pain: a log with pain during or next morning above ``threshold``;
    * missed: two planned sessions in a row, in the last 14 days, skipped or not logged by the
      day after (a day's grace to log);
    * silent: no log for ``SILENT_DAYS`` days once the plan has been running that long.
    """
    found: list[Finding] = []
    for lg in logs:
        worst = max(v for v in (lg.pain_during, lg.pain_next_morning, -1) if v is not None)
        if worst > threshold:
            morning_worse = (lg.pain_next_morning or -1) > (lg.pain_during or -1)
            when = "next morning" if morning_worse else "during"
            what = "run/walk" if lg.kind == RUN_WALK else "hip strength"
            found.append(
                Finding(
                    PAIN,
                    f"pain:{lg.session_date.isoformat()}:{lg.kind}",
                    f"Pain {worst}/10 {when} the {what} on {short_date(lg.session_date)}.",
                )
            )
    by_key = {(lg.session_date, lg.kind): lg for lg in logs}
    window = max(on_date - timedelta(days=14), watch_from)
    past = sorted(p for p in planned if window <= p[0] <= on_date - timedelta(days=1))
    streaks: list[list[date]] = [[]]
    for day, kind in past:
        lg = by_key.get((day, kind))
        if (lg is not None and lg.status == SKIPPED) or (
            lg is None and day <= on_date - timedelta(days=2)
        ):
            streaks[-1].append(day)
        elif lg is not None:
            streaks.append([])
    for streak in streaks:
        if len(streak) >= 2:
            # Keyed by the streak's first day: one flag per run of misses, however long.
            found.append(
                Finding(
                    MISSED,
                    f"missed:{streak[0].isoformat()}",
                    f"Missed {len(streak)} sessions in a row "
                    f"({short_date(streak[0])} to {short_date(streak[-1])}).",
                )
            )
    last = max((lg.session_date for lg in logs), default=None)
    since = max(last, watch_from) if last else watch_from
    if since <= on_date - timedelta(days=SILENT_DAYS):
        gap = (on_date - since).days
        reason = (
            f"No log since {short_date(last)} ({gap} days)."
            if last
            else f"No log since the plan started on {short_date(watch_from)} ({gap} days)."
        )
        found.append(Finding(SILENT, f"silent:{since.isoformat()}", reason))
    return found
