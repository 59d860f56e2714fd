"""Free-call booking: availability, slots, bookings, the manage link and the .ics invite."""

from flask import Flask


def init_app(app: Flask) -> None:
    from crm.booking import routes

    app.register_blueprint(routes.bp)
