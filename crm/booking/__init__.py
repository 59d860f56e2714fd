"""Free-call booking: availability, slots, bookings, the manage link and the .ics invite."""

from flask import Flask

from crm.nav import add_nav
from extensions import api as smorest_api
from extensions import csrf
from tasks import add_periodic_task


def init_app(app: Flask) -> None:
    # Imported here: crm.leads.services imports crm.booking.models, and these import the leads
    # services back (a cycle at the top).
    from crm.booking import api, busy_feed, emails, models, routes, tasks  # noqa: F401 - tasks

    app.register_blueprint(routes.bp)
    emails.init_app(app)
    csrf.exempt(api.bp)
    smorest_api.register_blueprint(api.bp)
    add_nav(app, "coach", "booking.availability", "Availability", 60)
    add_periodic_task(
        app, "busy-feed-refresh", "crm.booking.refresh_busy_feed", busy_feed.REFRESH_SECONDS
    )
    add_nav(app, "coach", "booking.call_settings", "Call type", 61)
    add_periodic_task(app, "booking-emails-sweep", "crm.booking.sweep_emails", 60.0)
