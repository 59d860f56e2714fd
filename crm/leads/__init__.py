"""The coach's CRM: leads, the pipeline, notes, the timeline, CSV import and export."""

from datetime import datetime

from flask import Flask

from crm import time as crm_time
from crm.nav import add_nav
from crm.time import zone
from tasks.registry import register_people


def in_zone(value: datetime | None, tz_name: str, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """Format a UTC datetime in a time zone (a template filter: `dt|in_zone(tz)`)."""
    if value is None:
        return ""
    try:
        tz = zone(tz_name)
    except ValueError:
        tz = zone("UTC")
    return value.astimezone(tz).strftime(fmt)


def register_client_page(app: Flask, page) -> None:
    """`page(session, user_id)` is the URL of the coach's page for the runner behind a lead, or
    None while she has none (programs registers it; the CRM knows nothing of plans)."""
    app.extensions["lead_client_page"] = page


def init_app(app: Flask) -> None:
    # Imported here: crm.booking.models imports crm.leads.models, and these import the leads
    # services, which import crm.booking.models back (a cycle at the top).
    from crm.leads import api, cli, followups, models, people, routes  # noqa: F401 - models
    from crm.leads.services import coach_timezone
    from extensions import db

    register_people(app, people.LeadPeople())
    followups.init_app(app)

    app.register_blueprint(routes.bp)
    api.register(app)
    app.cli.add_command(cli.import_leads)
    app.add_template_filter(in_zone, "in_zone")
    crm_time.init_app(app, lambda: coach_timezone(db.session))
    add_nav(app, "coach", "leads.pipeline", "Pipeline", 20)
    add_nav(app, "coach", "leads.lead_list", "Leads", 30)
