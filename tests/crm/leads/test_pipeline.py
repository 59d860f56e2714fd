from __future__ import annotations

from sqlalchemy import select

from crm.leads import services
from crm.leads.models import LeadEvent, Stage
from extensions import db


def _events(lead_id):
    return list(
        db.session.scalars(
            select(LeadEvent).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
        )
    )


def test_moving_a_lead_puts_it_on_the_timeline_and_offers_undo(coach_client, make_lead, coach):
    lead = make_lead(stage=Stage.CALL_BOOKED)
    response = coach_client.post(
        f"/coach/leads/{lead.id}/stage", data={"stage": "call_held", "next": "/coach/pipeline"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/coach/pipeline"
    db.session.refresh(lead)
    assert lead.stage == Stage.CALL_HELD
    event = _events(lead.id)[-1]
    assert event.kind == "stage_changed"
    assert event.data["from"] == "call_booked" and event.data["to"] == "call_held"
    assert event.actor_id == coach.id

    page = coach_client.get("/coach/pipeline").get_data(as_text=True)
    assert f"/coach/leads/{lead.id}/stage/undo" in page
    assert f'name="event_id" value="{event.id}"' in page
    # The undo offer is shown once.
    assert "/stage/undo" not in coach_client.get("/coach/pipeline").get_data(as_text=True)


def test_lost_needs_a_reason(coach_client, make_lead):
    lead = make_lead(stage=Stage.CALL_HELD)
    response = coach_client.post(
        f"/coach/leads/{lead.id}/stage", data={"stage": "lost", "lost_reason": "  "}
    )
    assert response.status_code == 400
    assert "Say why the lead was lost." in response.get_data(as_text=True)
    db.session.refresh(lead)
    assert lead.stage == Stage.CALL_HELD

    coach_client.post(
        f"/coach/leads/{lead.id}/stage", data={"stage": "lost", "lost_reason": "Price"}
    )
    db.session.refresh(lead)
    assert (lead.stage, lead.lost_reason) == (Stage.LOST, "Price")
    assert "(Price)" in _events(lead.id)[-1].summary


def test_illegal_move_is_refused_with_a_message(coach_client, make_lead):
    lead = make_lead(stage=Stage.ENROLLED)
    response = coach_client.post(
        f"/coach/leads/{lead.id}/stage",
        data={"stage": "new", "next": "/coach/pipeline"},
        follow_redirects=True,
    )
    assert "can&#39;t move from Enrolled to New" in response.get_data(as_text=True)
    db.session.refresh(lead)
    assert lead.stage == Stage.ENROLLED


def test_undo_restores_the_previous_stage_and_lost_reason(db_session, make_lead):
    lead = make_lead(stage=Stage.LOST, lost_reason="Price")
    event = services.move_lead(db_session, lead.id, Stage.NEW)
    assert lead.stage == Stage.NEW and lead.lost_reason == ""
    assert services.undo_stage_change(db_session, lead.id, event.id) == Stage.LOST
    assert (lead.stage, lead.lost_reason) == (Stage.LOST, "Price")
    assert _events(lead.id)[-1].summary == "Undone: back to Lost"


def test_undo_via_the_form(coach_client, make_lead):
    lead = make_lead(stage=Stage.NEW)
    coach_client.post(f"/coach/leads/{lead.id}/stage", data={"stage": "call_booked"})
    event = _events(lead.id)[-1]
    response = coach_client.post(
        f"/coach/leads/{lead.id}/stage/undo", data={"event_id": str(event.id)}
    )
    assert response.status_code == 302
    db.session.refresh(lead)
    assert lead.stage == Stage.NEW


def test_a_stale_undo_is_refused(db_session, make_lead):
    lead = make_lead(stage=Stage.NEW)
    first = services.move_lead(db_session, lead.id, Stage.CALL_BOOKED)
    services.move_lead(db_session, lead.id, Stage.CALL_HELD)
    try:
        services.undo_stage_change(db_session, lead.id, first.id)
    except services.LeadError:
        pass
    else:
        raise AssertionError("an older change was undone")
    assert lead.stage == Stage.CALL_HELD


def test_pipeline_counts_every_stage(coach_client, make_lead):
    make_lead(stage=Stage.NEW, name="Nora New")
    make_lead(stage=Stage.NEW)
    make_lead(stage=Stage.ENROLLED, name="Erin Enrolled")
    counts = services.stage_counts(db.session)
    assert counts[Stage.NEW] == 2 and counts[Stage.ENROLLED] == 1 and counts[Stage.LOST] == 0
    html = coach_client.get("/coach/pipeline").get_data(as_text=True)
    assert "Nora New" in html and "Erin Enrolled" in html


def test_pipeline_board_takes_the_most_recent_leads_per_stage(db_session, make_lead):
    for _ in range(12):
        make_lead(stage=Stage.NEW)
    make_lead(stage=Stage.LOST, lost_reason="x")
    board = services.recent_by_stage(db_session, per_stage=8)
    assert len(board[Stage.NEW]) == 8
    assert len(board[Stage.LOST]) == 1


def test_empty_pipeline_says_what_to_do(coach_client):
    html = coach_client.get("/coach/pipeline").get_data(as_text=True)
    assert "Your pipeline is empty" in html and "/book" in html
