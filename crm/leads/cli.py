"""`flask --app app import-leads FILE.csv`."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from crm.leads import importer
from extensions import db


@click.command("import-leads")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True))
@with_appcontext
def import_leads(path: str) -> None:
    """Import leads from a CSV file (dedupe by email; bad rows reported and skipped)."""
    with open(path, "rb") as handle:
        data = handle.read(importer.MAX_IMPORT_BYTES + 1)
    try:
        plan = importer.prepare_import(data)
    except importer.ImportFileError as exc:
        raise click.ClickException(str(exc)) from exc
    with click.progressbar(length=len(plan.rows), label="Importing leads") as bar:
        report = importer.apply_import(db.session, plan, progress=bar.update)
    for error in report.errors:
        click.echo(f"row {error.row}: {error.field}: {error.message}", err=True)
    click.echo(
        f"{report.created} created, {report.updated} updated, {report.skipped} rows skipped "
        f"({report.duplicates_in_file} duplicate emails merged)."
    )
