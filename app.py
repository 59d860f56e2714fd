"""Hero's application factory: `flask --app app run`, `flask --app app seed-demo`, …"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, g, request
from flask_compress import Compress
from werkzeug.middleware.proxy_fix import ProxyFix

import config as config_module
from extensions import api, bootstrap, csrf, db, limiter, login_manager, migrate


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(config_module.INSTANCE), static_folder="static")
    app.config.from_mapping(config_module.Config().as_dict())
    if test_config:
        app.config.from_mapping(test_config)
    _refuse_unsafe_production(app)
    _trust_proxies(app)

    db.init_app(app)
    from crm import connections

    connections.init_app(app)  # no ping or BEGIN round trips for reads on PostgreSQL
    migrate.init_app(
        app,
        db,
        directory=str(config_module.ROOT / "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)
    api.init_app(app)
    # Brotli or gzip for text. Registered before the features so that its after_request runs
    # last (Flask runs them in reverse), on the body and ETag the cache headers have set.
    Compress(app)

    from tasks import celery_init_app

    celery_init_app(app)
    from crm import storage

    storage.init_app(app)
    from crm import web

    web.init_app(app)  # bounded <int:…> and <date:…> converters, before the blueprints' rules
    _register_features(app)
    _register_request_hooks(app)
    from crm.site import assets

    assets.init_app(app)  # static URLs fingerprinted and cached for a year
    from crm import logging as crm_logging

    crm_logging.init_app(app)

    from crm import errors

    errors.init_app(app)
    return app


def _refuse_unsafe_production(app: Flask) -> None:
    if app.config.get("HERO_ENV") == "production" and not app.config["BASE_URL"].startswith(
        "https://"
    ):
        logging.getLogger(__name__).warning("BASE_URL is not https in production")
    key = app.config.get("STRIPE_SECRET_KEY", "")
    if app.config.get("HERO_ENV") == "production" and not key:
        # Without a key Hero runs its offline test checkout: free enrolments.
        raise RuntimeError("STRIPE_SECRET_KEY must be set in production (HERO_ENV=production).")
    if key.startswith("sk_live_") and not app.config["BASE_URL"].startswith("https://"):
        raise RuntimeError("A live Stripe key needs an https BASE_URL.")


def _trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES load balancers, take the client's address and scheme from their
    X-Forwarded-For/-Proto (the rate limits then count per client, not per balancer). With 0,
    the headers are ignored: anyone can send them."""
    hops = int(app.config.get("TRUSTED_PROXIES", 0))
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def _register_features(app: Flask) -> None:
    """Each feature package registers its blueprints, CLI commands and template helpers."""
    import crm.accounts
    import crm.alerts
    import crm.articles
    import crm.billing
    import crm.booking
    import crm.dashboard
    import crm.health
    import crm.leads
    import crm.site
    import programs
    import programs.coaching
    import programs.community
    import tasks.outbox
    from bench import seed as bench_seed

    features = (
        tasks.outbox,
        crm.site,
        crm.accounts,
        crm.booking,
        crm.leads,
        crm.alerts,
        crm.dashboard,
        crm.billing,
        programs,
        programs.coaching,
        crm.articles,
        programs.community,
        crm.health,
    )
    for feature in features:
        feature.init_app(app)
    bench_seed.init_app(app)  # `flask seed-bench`


CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Inline style attributes are allowed for server-rendered SVG charts; scripts never inline.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        # The runner's phone app: its service worker (/sw.js) and manifest, both our own.
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        # Article videos play in a privacy-enhanced embed from these two hosts only.
        "frame-src https://www.youtube-nocookie.com https://player.vimeo.com",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self' https://checkout.stripe.com",
    ]
)


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def _request_id() -> None:
        g.request_id = request.headers.get("X-Request-ID") or secrets.token_hex(8)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if app.config["BASE_URL"].startswith("https://"):
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response
