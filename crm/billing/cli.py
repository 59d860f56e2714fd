import click
from flask.cli import with_appcontext

from crm.billing import catalogue, reconcile
from crm.billing import stripe_gateway as gateway
from crm.billing.errors import BillingError
from extensions import db


@click.command("stripe-sync")
@with_appcontext
def stripe_sync() -> None:
    """Create or link a Stripe Product per programme and a Stripe Price per active price."""
    try:
        for line in catalogue.stripe_sync(db.session):
            click.echo(line)
    except (BillingError, gateway.GatewayError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("stripe-reconcile")
@click.option(
    "--days", default=3, show_default=True, type=click.IntRange(1, 400),
    help="Compare what Stripe created in this many past days.",
)  # fmt: skip
@with_appcontext
def stripe_reconcile(days: int) -> None:
    """Run the daily reconciliation now and print what it fixed."""
    fixed = reconcile.reconcile(db.session, days=days)
    reconcile.report_reconciliation(db.session, fixed)
    click.echo("\n".join(fixed) or "Nothing to fix.")
