"""Telling the coach: `notify_coach` emails her about a client (a flag, a failed payment, pain in
a check-in), and `CoachFlag` keeps what she should look at until she resolves it."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from crm.alerts import models  # noqa: F401 - the table, for create_all
from tasks.registry import Contact, Step, register_preview, register_step


def _preview(session: Session, template: str, contact: Contact) -> dict[str, Any]:
    return {
        "runner_name": "Dana Runner",
        "kind_label": "Pain over her threshold",
        "reason": "Dana reported pain 6/10 in her weekly check-in (her threshold is 4).",
        "client_url": f"{current_app.config['BASE_URL']}/coach/clients/1",
    }


def init_app(app: Flask) -> None:
    register_step(app, "coach", 20, Step(
        "coach_alert", "Alert", "Pain over threshold, two missed sessions, payment failed"
    ))  # fmt: skip
    register_preview(app, _preview)
