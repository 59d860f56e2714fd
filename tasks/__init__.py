"""Celery: the app bound to Flask, and the background jobs (email outbox, sequences, check-ins)."""

from __future__ import annotations

from celery import Celery, Task
from celery.schedules import crontab
from flask import Flask

# One beat process for the whole deployment (see README): the outbox's clock.
BEAT_SCHEDULE = {
    "outbox-dispatch-due": {"task": "tasks.dispatch_due", "schedule": 60.0},
    "outbox-sweep-stuck": {"task": "tasks.sweep_stuck", "schedule": 60.0},
    "broker-prune": {"task": "tasks.prune_broker", "schedule": crontab(hour=3, minute=17)},
    # Every 15 minutes on the quarter hour: each client's Sunday 18:00 and the coach's 07:00
    # fall on one run whatever the zone (offsets are whole quarter hours).
    "client-weekly-checkins": {"task": "tasks.weekly_checkins", "schedule": crontab(minute="*/15")},
    "coach-digest": {"task": "tasks.coach_digest", "schedule": crontab(minute="*/15")},
    "client-sequences": {"task": "tasks.client_sequences", "schedule": crontab(minute=5)},
}


def celery_init_app(app: Flask) -> Celery:
    """Build the Celery app from app.config["CELERY"]; every task runs inside an app context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.conf.beat_schedule = BEAT_SCHEDULE
    broker = celery_app.conf.broker_url or ""
    if broker.startswith("sqla+"):
        _tune_embedded_broker()
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def add_periodic_task(app: Flask, name: str, task: str, schedule) -> None:
    """Put a feature's periodic task on the one beat schedule (call from its init_app)."""
    celery_app = app.extensions["celery"]
    celery_app.conf.beat_schedule = {
        **(celery_app.conf.beat_schedule or {}),
        name: {"task": task, "schedule": schedule},
    }


def _tune_embedded_broker() -> None:
    # kombu's SQLAlchemy transport polls once a second by default (~2 tasks/s); its polling
    # interval must be set on the transport class: passing it in broker_transport_options
    # crashes the worker.
    from kombu.transport import sqlalchemy as kombu_sqla

    kombu_sqla.Transport.polling_interval = 0.1
