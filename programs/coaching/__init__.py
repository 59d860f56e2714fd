"""The coaching emails of a client's plan: the weekly check-in (and its one-click form), the
missed-workout nudge, race week and programme complete — and her choice to get them at all."""

from __future__ import annotations

from celery.schedules import crontab
from flask import Flask

from programs.coaching import checkins, clients, models, nudges, routes, tasks  # noqa: F401
from tasks import add_periodic_task
from tasks.registry import Step, register_condition, register_preview, register_step

STEPS = (
    (20, Step("weekly_checkin", "Weekly check-in", "Every Sunday at 18:00 in her time zone")),
    (30, Step("missed_workout", "Missed-workout nudge", "When she has not logged for a while",
              (72,), "Hours without a log before the nudge (whole days).")),
    (40, Step("race_week", "Race week", "In the days before her race", (168,),
              "Hours before the race (whole days).")),
    (50, Step("programme_complete", "Programme complete", "After the last session of her plan")),
)  # fmt: skip


def init_app(app: Flask) -> None:
    app.register_blueprint(routes.bp)
    # Every 15 minutes on the quarter hour: each client's Sunday 18:00 falls on one run whatever
    # her zone (offsets are whole quarter hours).
    add_periodic_task(
        app, "client-weekly-checkins", "programs.coaching.send_weekly_checkins",
        crontab(minute="*/15"),
    )  # fmt: skip
    add_periodic_task(app, "client-sequences", "programs.coaching.send_nudges", crontab(minute=5))
    register_condition(
        app, "client_automation", clients.client_automation, batch=clients.client_automation_many
    )
    register_condition(app, "missed_workouts", nudges.missed_workouts)
    register_condition(app, "race_ahead", nudges.race_ahead)
    for position, step in STEPS:
        register_step(app, "client", position, step)
    register_preview(app, checkins.preview)
