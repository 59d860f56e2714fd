"""The coach's dashboard: today's calls, new leads, and the funnel and revenue (counted by beat)."""

from flask import Flask

from crm.dashboard import counts, digest, routes
from crm.nav import add_nav


def init_app(app: Flask) -> None:
    app.register_blueprint(routes.bp)
    digest.init_app(app)
    counts.init_app(app)
    add_nav(app, "coach", "dashboard.home", "Today", 10)
