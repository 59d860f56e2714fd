"""crm.rows: a new row in one Core INSERT, outside the unit of work, and the object made the
session's afterwards (the booking request's lead and booking)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from crm.leads.models import Lead, Stage
from crm.rows import attach, insert_row


def test_a_row_is_written_with_its_values_and_its_column_defaults(db_session):
    lead = insert_row(db_session, Lead(email="ines@example.com", name="Ines", stage=Stage.NEW))
    assert lead.id is not None
    assert lead not in db_session  # what changes on it now is not written
    db_session.commit()
    row = db_session.execute(
        select(Lead.name, Lead.stage, Lead.source, Lead.utm, Lead.created_at).where(
            Lead.id == lead.id
        )
    ).one()
    assert row.name == "Ines" and row.stage == Stage.NEW
    assert row.source == "direct" and row.utm == {}  # the columns' defaults, in the row
    assert row.created_at is not None


def test_a_row_that_breaks_a_constraint_raises_as_a_flush_would(db_session):
    insert_row(db_session, Lead(email="twin@example.com", name="One"))
    db_session.commit()
    with pytest.raises(IntegrityError):
        insert_row(db_session, Lead(email="twin@example.com", name="Two"))
    db_session.rollback()
    assert db_session.scalar(select(Lead.name).where(Lead.email == "twin@example.com")) == "One"


def test_a_rolled_back_row_is_not_kept(db_session):
    insert_row(db_session, Lead(email="gone@example.com", name="Gone"))
    db_session.rollback()
    assert db_session.scalar(select(Lead.id).where(Lead.email == "gone@example.com")) is None


def test_attached_it_is_the_sessions_and_reads_what_it_was_not_given_from_the_row(db_session):
    lead = insert_row(db_session, Lead(email="jo@example.com", name="Jo"))
    db_session.commit()
    attached = attach(db_session, lead)
    assert attached is lead and inspect(lead).persistent
    assert db_session.get(Lead, lead.id) is lead  # no second copy in the identity map
    assert lead.name == "Jo"
    assert lead.source == "direct"  # not given: loaded from the row when asked for
    lead.name = "Jo March"  # and now a change is the session's to write
    db_session.commit()
    assert db_session.scalar(select(Lead.name).where(Lead.id == lead.id)) == "Jo March"
