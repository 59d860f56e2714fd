import click
from flask.cli import with_appcontext

from crm.accounts import services
from crm.accounts.models import Role
from extensions import db


@click.command("create-coach")
@click.option("--email", required=True)
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Asked if omitted."
)
@click.option("--first-name", default="Coach")
@with_appcontext
def create_coach(email: str, password: str, first_name: str) -> None:
    """Create the coach's account."""
    try:
        user = services.create_user(
            db.session, email=email, password=password, role=Role.COACH, first_name=first_name
        )
    except services.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Coach account created for {user.email}.")
