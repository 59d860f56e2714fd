"""The coach's dashboard: today's calls, new leads and the funnel."""

from flask import Flask

from crm.dashboard import digest, routes
from crm.nav import add_nav


def init_app(app: Flask) -> None:
    app.register_blueprint(routes.bp)
    digest.init_app(app)
    add_nav(app, "coach", "dashboard.home", "Today", 10)
