"""CLI: `flask --app app plan-preview PROFILE.json` (no database) and `sync-coach-flags`."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from extensions import db
from programs.engine import Profile, ProfileError, generate_plan, render_text
from programs.flags import sync_all_flags


@click.command("plan-preview")
@click.argument("profile_file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="json: the plan as canonical JSON; text: a readable week-by-week table.",
)
def plan_preview(profile_file, fmt: str) -> None:
    """Print the plan the engine makes for PROFILE_FILE (a profile as JSON; '-' for stdin)."""
    try:
        data = json.load(profile_file)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{profile_file.name} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise click.ClickException("The profile must be a JSON object.")
    try:
        profile = Profile.from_dict(data)
    except ProfileError as exc:
        lines = "\n".join(
            f"  {field}: {message}" for field, message in sorted(exc.messages.items())
        )
        raise click.ClickException(f"The profile is not valid:\n{lines}") from exc
    plan = generate_plan(profile)
    click.echo(plan.to_json() if fmt == "json" else render_text(plan))


@click.command("sync-coach-flags")
@with_appcontext
def sync_coach_flags() -> None:
    """Raise the flags now due for every runner (pain, missed sessions, silence). Idempotent:
    run it daily (cron or beat) so silent runners are flagged even when nobody looks."""
    raised = sync_all_flags(db.session)
    click.echo(f"{raised} new flag(s).")
