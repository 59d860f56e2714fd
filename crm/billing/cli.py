import click
from flask.cli import with_appcontext

from crm.billing import services
from crm.billing import stripe_gateway as gateway
from extensions import db


@click.command("stripe-sync")
@with_appcontext
def stripe_sync() -> None:
    """Create or link a Stripe Product per programme and a Stripe Price per active price."""
    try:
        for line in services.stripe_sync(db.session):
            click.echo(line)
    except (services.BillingError, gateway.GatewayError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("stripe-reconcile")
@with_appcontext
def stripe_reconcile() -> None:
    """Run the daily reconciliation now and print what it fixed."""
    fixed = services.reconcile(db.session)
    services.report_reconciliation(db.session, fixed)
    click.echo("\n".join(fixed) or "Nothing to fix.")
