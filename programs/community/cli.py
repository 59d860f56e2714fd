"""`flask --app app community-digest`: queue this week's community digest now."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from extensions import db
from programs.community.digest import send_weekly_digest


@click.command("community-digest")
@with_appcontext
def community_digest() -> None:
    """Queue the weekly community digest (one per member and week; safe to run twice)."""
    click.echo(f"{send_weekly_digest(db.session)} digests queued.")
