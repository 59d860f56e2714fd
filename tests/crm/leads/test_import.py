from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from crm.leads import importer
from crm.leads.models import Lead, LeadEvent, Stage
from extensions import db

GOOD_AND_BAD = (
    "E-mail,First name,Last name,Phone,Goal date\n"
    "ann@example.com,Ann,Lee,555-1000,2026-02-20\n"
    "not-an-email,Bad,Row,,\n"
    "ANN@example.com,Ann,Lee-Smith,,\n"
    "bob@example.com,,,,\n"
    "cara@example.com,Cara,,,31/31/2026\n"
    "dee@example.com,Dee,Old,,\n"
)


def _leads():
    return {lead.email: lead for lead in db.session.scalars(select(Lead))}


def test_good_rows_land_bad_rows_are_reported_and_duplicates_merge(db_session, make_lead):
    existing = make_lead(email="dee@example.com", name="Dee", source="instagram")
    report = importer.import_leads(db_session, GOOD_AND_BAD.encode())
    assert (report.created, report.updated) == (1, 1)
    assert report.duplicates_in_file == 1
    assert {(e.row, e.field) for e in report.errors} == {
        (3, "email"), (5, "name"), (6, "goal_date"),
    }  # fmt: skip
    assert report.skipped == 3
    leads = _leads()
    assert set(leads) == {"ann@example.com", "dee@example.com"}
    assert leads["ann@example.com"].name == "Ann Lee-Smith"  # the later row wins
    assert leads["ann@example.com"].phone == "555-1000"  # …without erasing what it left empty
    assert leads["ann@example.com"].source == "csv import"
    assert leads["dee@example.com"].id == existing.id
    assert leads["dee@example.com"].name == "Dee Old"
    assert leads["dee@example.com"].source == "instagram"  # first touch kept
    kinds = {
        e.kind
        for e in db_session.scalars(select(LeadEvent).where(LeadEvent.lead_id == existing.id))
    }
    assert "imported" in kinds


def test_header_aliases():
    mapping = importer.map_headers(["Full Name", "Email Address", "Mobile", "Ignored"])
    assert mapping == {"Full Name": "name", "Email Address": "email", "Mobile": "phone"}


def test_a_file_without_an_email_column_is_refused():
    with pytest.raises(importer.ImportFileError, match="Email column"):
        importer.prepare_import(b"Name,Phone\nAnn,1\n")


def test_oversized_file_is_refused():
    with pytest.raises(importer.ImportFileError, match="larger than"):
        importer.prepare_import(b"email,name\n" + b"x" * (importer.MAX_IMPORT_BYTES + 1))


def test_a_database_failure_rolls_back_the_whole_batch(db_session, monkeypatch):
    plan = importer.prepare_import(b"email,name\na@example.com,A\nb@example.com,B\n")
    calls = {"n": 0}
    original = importer.upsert_lead

    def failing(session, **kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("database went away")
        return original(session, **kw)

    monkeypatch.setattr(importer, "upsert_lead", failing)
    with pytest.raises(RuntimeError):
        importer.apply_import(db_session, plan)
    assert db_session.scalar(select(func.count()).select_from(Lead)) == 0


def test_stage_column_sets_the_stage(db_session):
    report = importer.import_leads(db_session, "email,name,stage\nx@example.com,X,Enrolled\n")
    assert report.created == 1
    assert _leads()["x@example.com"].stage == Stage.ENROLLED


def test_upload_form_shows_the_error_report(coach_client):
    response = coach_client.post(
        "/coach/leads/import",
        data={"file": (io.BytesIO(GOOD_AND_BAD.encode()), "leads.csv")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Import report" in html
    assert "<td>3</td><td>email</td>" in html
    assert "Name is missing." in html
    assert len(_leads()) == 2


def test_upload_form_refuses_a_file_it_cannot_read(coach_client):
    response = coach_client.post(
        "/coach/leads/import",
        data={"file": (io.BytesIO(b"Name\nAnn\n"), "leads.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "Email column" in response.get_data(as_text=True)


def test_cli_imports_with_a_report(cli_runner, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text(GOOD_AND_BAD)
    result = cli_runner.invoke(args=["import-leads", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 3 rows skipped" in result.output
    assert "row 3: email:" in result.output
    assert "row 6: goal_date:" in result.output
    assert len(_leads()) == 2


def test_cli_fails_cleanly_on_an_unusable_file(cli_runner, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("Phone\n1\n")
    result = cli_runner.invoke(args=["import-leads", str(path)])
    assert result.exit_code != 0
    assert "Email column" in result.output
