"""Paid enrolment through Stripe: programmes and prices, offers, Checkout, exactly-once
fulfilment, webhooks, refunds, reconciliation and the coach's payments ledger."""

from typing import Any

from celery.schedules import crontab
from flask import Flask, current_app
from sqlalchemy.orm import Session

from crm.nav import add_nav
from extensions import csrf, limiter
from tasks import add_periodic_task
from tasks.registry import Contact, Step, register_preview, register_step


def init_app(app: Flask) -> None:
    # Imported here: leads, articles and programs import crm.billing.models, and the routes import
    # the leads services, which import crm.billing.models back (a cycle at the top).
    from crm.billing import cli, models, routes, tasks, webhooks  # noqa: F401 - models, tasks

    app.register_blueprint(routes.bp)
    csrf.exempt(webhooks.bp)
    limiter.exempt(webhooks.bp)
    app.register_blueprint(webhooks.bp)
    app.cli.add_command(cli.stripe_sync)
    app.cli.add_command(cli.stripe_reconcile)
    add_nav(app, "coach", "billing.programmes", "Programmes", 60)
    add_nav(app, "coach", "billing.payments", "Payments", 65)

    add_periodic_task(
        app, "billing-enforce-grace-periods", "crm.billing.enforce_grace_periods",
        crontab(minute=15),
    )  # fmt: skip
    add_periodic_task(
        app, "billing-retry-waiting-events", "crm.billing.retry_waiting_events",
        crontab(minute=45),
    )  # fmt: skip
    add_periodic_task(
        app, "billing-reconcile-stripe", "crm.billing.reconcile_stripe",
        crontab(hour=4, minute=30),
    )  # fmt: skip

    register_step(app, "client", 10, Step("welcome", "Welcome", "When her payment goes through"))
    register_step(
        app, "client", 60, Step("payment_failed", "Payment failed", "When a payment fails")
    )
    register_preview(app, _preview)

    @app.context_processor
    def _stripe_mode():
        # Offline test mode shows a banner on every page: no money moves.
        return {"stripe_offline_mode": not current_app.config.get("STRIPE_SECRET_KEY")}


def _preview(session: Session, template: str, contact: Contact) -> dict[str, Any]:
    return {
        "programme_name": "0 to 5K Hero",
        "programme_weeks": 12,
        "offer_url": f"{current_app.config['BASE_URL']}/offer/preview",
    }
