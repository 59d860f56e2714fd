"""`/healthz` for a load balancer: is the database reachable, is the broker reachable?

200 with `{"status": "ok", ...}` when both answer, 503 with `"status": "unavailable"` when either
does not. Each check is bounded by a short timeout so a dead peer never holds a web worker for
long. Public and unauthenticated by design, so it says which peer failed but never why in detail
(no hosts, no credentials, no driver messages).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from extensions import csrf, db, limiter

bp = Blueprint("health", __name__)

BROKER_TIMEOUT_SECONDS = 2.0


def check_database() -> None:
    """Raise if the database does not answer `SELECT 1` (the pool's checkout replaces dropped
    connections, so a database that came back is seen as up on the next call)."""
    try:
        db.session.execute(text("SELECT 1"))
    finally:
        db.session.rollback()


def check_broker() -> None:
    """Raise if the Celery broker cannot be connected to within BROKER_TIMEOUT_SECONDS."""
    celery = current_app.extensions["celery"]
    # From Celery's connection pool: a load balancer polls often, and a fresh broker connection
    # per probe would cost more than the probe itself.
    with celery.pool.acquire(block=True, timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
        # A pooled connection can outlive the broker: ask it something (Redis: PING).
        client = getattr(conn.default_channel, "client", None)
        if callable(getattr(client, "ping", None)):
            client.ping()


CHECKS: dict[str, Callable[[], None]] = {"database": check_database, "broker": check_broker}


def run_checks() -> tuple[bool, dict[str, dict]]:
    """Run every check; (all ok, per-check result with its time in milliseconds)."""
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"
            current_app.logger.warning("health check %s failed: %r", name, exc)
            results[name] = {"ok": False, "error": type(exc).__name__}
        else:
            results[name] = {"ok": True}
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return all(r["ok"] for r in results.values()), results


@bp.get("/healthz")
@limiter.exempt
def healthz():
    ok, checks = run_checks()
    response = jsonify({"status": "ok" if ok else "unavailable", "checks": checks})
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)
