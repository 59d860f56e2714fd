"""The coach's CRM: leads, the pipeline, notes, the timeline, CSV import and export."""

from datetime import datetime

from flask import Flask

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


def init_app(app: Flask) -> None:
    from crm import demo
    from crm.leads import api, cli, followups, models, people, routes  # noqa: F401 - models

    register_people(app, people.LeadPeople())
    followups.init_app(app)

    app.register_blueprint(routes.bp)
    api.register(app)
    app.cli.add_command(cli.import_leads)
    app.cli.add_command(demo.seed_demo)
    app.add_template_filter(in_zone, "in_zone")
    add_nav(app, "coach", "leads.pipeline", "Pipeline", 20)
    add_nav(app, "coach", "leads.lead_list", "Leads", 30)
