"""The public site: the landing page (its copy editable by the coach), and the cache headers of
every public page (caching.py)."""

from flask import Flask

from crm import nav
from crm.site import caching, routes


def init_app(app: Flask) -> None:
    nav.init_app(app)
    caching.init_app(app)
    app.register_blueprint(routes.bp)
    nav.add_nav(app, "coach", "site.edit_landing", "Site", 90)
