"""Celery bound to Flask, and the email outbox: infrastructure that imports no feature.

Features add their periodic jobs with `add_periodic_task` and tell the outbox what it needs of
them through `tasks.registry`, each in its own `init_app`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from celery import Celery, Task, shared_task
from celery.schedules import crontab
from flask import Flask

# One beat process for the whole deployment (see README): the outbox's clock. Features add their
# own entries with add_periodic_task.
BEAT_SCHEDULE = {
    "outbox-dispatch-due": {"task": "tasks.dispatch_due", "schedule": 60.0},
    "outbox-sweep-stuck": {"task": "tasks.sweep_stuck", "schedule": 60.0},
    "broker-prune": {"task": "tasks.prune_broker", "schedule": crontab(hour=3, minute=17)},
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


def shared_task_with_aliases(
    *, name: str, aliases: Iterable[str] = (), **options: Any
) -> Callable[[Callable[..., Any]], Any]:
    """`@shared_task(name=...)` that also answers to each old name in `aliases`, so a task
    queued under its old name before a deploy still runs after it. Names are
    `<package>.<verb>`, e.g. "programs.coaching.send_weekly_checkins"."""

    def decorate(fn: Callable[..., Any]) -> Any:
        for alias in aliases:
            shared_task(name=alias, **options)(fn)
        return shared_task(name=name, **options)(fn)

    return decorate


def _tune_embedded_broker() -> None:
    # kombu's SQLAlchemy transport polls once a second by default (~2 tasks/s); its polling
    # interval must be set on the transport class: passing it in broker_transport_options
    # crashes the worker. Imported here: it loads SQLAlchemy, which `import tasks` does not need
    # unless the embedded broker is in use.
    from kombu.transport import sqlalchemy as kombu_sqla

    kombu_sqla.Transport.polling_interval = 0.1
