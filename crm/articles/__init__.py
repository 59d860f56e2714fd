"""The coach's articles: Markdown writing with a live preview, public pages, feed, sitemap, and
which article brought which booked call and client."""

from __future__ import annotations

import logging

from flask import Flask, request

from crm.booking.errors import InvalidToken
from crm.nav import add_nav
from extensions import db

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    # Imported here: programs.community imports crm.articles.render, and at the top the routes
    # would load the leads, booking and billing services into it.
    from crm.articles import cli, models, routes  # noqa: F401 - models for db.create_all()

    app.register_blueprint(routes.bp)
    app.cli.add_command(cli.seed_articles)
    add_nav(app, "coach", "articles.coach_list", "Articles", 45)
    # The dashboard includes templates/articles/_attribution.html with this global, so the
    # dashboard's own view needs no change.
    app.add_template_global(_attribution, "articles_attribution")

    @app.after_request
    def _attribute_booking(response):
        # The booking form already carries the CTA's utm_* fields onto the lead; this adds the
        # visitor's first and last article touches, once the booking exists. The article pages
        # are cached and set no cookie, so the browser keeps the touches (static/js/touches.js)
        # and the booking form posts them.
        if (
            request.endpoint == "booking.book"
            and request.method == "POST"
            and response.status_code in (302, 303)
            and (_touch("first_touch") or _touch("last_touch")
                 or request.form.get("utm_source") == "article")
        ):  # fmt: skip
            _record_attribution(response.headers.get("Location", ""))
        return response


def _touch(name: str) -> str:
    """An article touch the booking form posts ("article:<slug>"); anything else is ignored."""
    value = request.form.get(name, "")[:140]
    return value if value.startswith("article:") else ""


def _attribution() -> list[dict]:
    # Imported when called, as in _record_attribution.
    from crm.articles.services import articles_attribution

    return articles_attribution(db.session)


def _record_attribution(location: str) -> None:
    # Imported when called: at the top they would load the booking, lead and billing services
    # into every import of crm.articles (programs.community only wants crm.articles.render).
    from crm.articles.services import record_booking_attribution
    from crm.booking.services import UTM_KEYS, booking_from_token

    token = location.rstrip("/").rsplit("/", 1)[-1]
    if "/book/confirmed/" not in location or not token:
        return
    try:
        booking = booking_from_token(db.session, token)
        record_booking_attribution(
            db.session,
            booking.id,
            first_touch=_touch("first_touch"),
            last_touch=_touch("last_touch"),
            utm={k: request.form.get(k, "") for k in UTM_KEYS},
        )
    except InvalidToken:
        return
    except Exception:  # the booking is made; a lost attribution must not turn it into an error
        db.session.rollback()
        log.exception("could not record the article attribution of a booking")
