from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm.billing.models import Price, PriceKind, Programme
from crm.booking.models import Booking, BookingStatus
from crm.leads.models import LeadEvent, Note
from crm.leads.services import TIMELINE_SHOWN, lead_detail
from extensions import db


def test_detail_shows_facts_bookings_and_timeline(coach_client, make_lead, db_session):
    lead = make_lead(
        name="Dana <Runner>",
        phone="+1 555 0100",
        goal_race="runDisney Princess 5K",
        pain_level=6,
        pain_notes="Left knee on stairs",
        source="instagram",
        utm={"utm_campaign": "spring"},
    )
    start = datetime(2030, 1, 7, 17, 0, tzinfo=UTC)
    db_session.add(
        Booking(
            lead_id=lead.id,
            start_at=start,
            end_at=start + timedelta(minutes=20),
            slot_start=start,
            status=BookingStatus.BOOKED,
            timezone="UTC",
        )  # fmt: skip
    )
    db_session.add(LeadEvent(lead_id=lead.id, kind="booked", summary="Free call booked"))
    db_session.commit()
    html = coach_client.get(f"/coach/leads/{lead.id}").get_data(as_text=True)
    assert "Dana &lt;Runner&gt;" in html and "<Runner>" not in html
    for text in (
        "runDisney Princess 5K",
        "6/10",
        "Left knee on stairs",
        "spring",
        "Free call booked",
    ):
        assert text in html
    booking = db_session.scalar(select(Booking))
    assert f"/coach/bookings/{booking.id}/outcome" in html
    assert 'value="no_show"' in html and f'name="next" value="/coach/leads/{lead.id}"' in html


def test_unknown_lead_is_404(coach_client):
    assert coach_client.get("/coach/leads/999999").status_code == 404


def test_notes_add_edit_delete_with_timeline(coach_client, make_lead):
    lead = make_lead()
    response = coach_client.post(f"/coach/leads/{lead.id}/notes", data={"body": "Knee better"})
    assert response.status_code == 302
    note = db.session.scalar(select(Note))
    assert note.body == "Knee better"

    coach_client.post(f"/coach/leads/{lead.id}/notes/{note.id}", data={"body": "Knee much better"})
    db.session.refresh(note)
    assert note.body == "Knee much better"

    coach_client.post(f"/coach/leads/{lead.id}/notes/{note.id}/delete")
    db.session.expire_all()
    assert db.session.scalar(select(Note)) is None
    kinds = [e.kind for e in db.session.scalars(select(LeadEvent).order_by(LeadEvent.id))]
    assert kinds == ["note_added", "note_edited", "note_deleted"]


def test_an_empty_note_is_refused_on_the_page(coach_client, make_lead):
    lead = make_lead()
    response = coach_client.post(f"/coach/leads/{lead.id}/notes", data={"body": "   "})
    assert response.status_code == 400
    assert "This field is required" in response.get_data(as_text=True)
    assert db.session.scalar(select(Note)) is None


def test_a_note_of_another_lead_cannot_be_deleted_through_this_one(coach_client, make_lead):
    a, b = make_lead(), make_lead()
    coach_client.post(f"/coach/leads/{b.id}/notes", data={"body": "B's note"})
    note = db.session.scalar(select(Note))
    assert coach_client.post(f"/coach/leads/{a.id}/notes/{note.id}/delete").status_code == 404
    assert db.session.scalar(select(Note)) is not None


def test_pause_and_resume_automation(coach_client, make_lead):
    lead = make_lead()
    coach_client.post(f"/coach/leads/{lead.id}/automation", data={"paused": "1"})
    db.session.refresh(lead)
    assert lead.automation_paused is True
    html = coach_client.get(f"/coach/leads/{lead.id}").get_data(as_text=True)
    assert "Resume automation" in html and "Automation paused" in html
    coach_client.post(f"/coach/leads/{lead.id}/automation", data={"paused": "0"})
    db.session.refresh(lead)
    assert lead.automation_paused is False


def test_calls_and_timeline_come_newest_first_and_the_timeline_is_capped(
    coach_client, make_lead, db_session
):
    """The calls and the timeline ride in the lead's one statement (as JSON lists): each call
    keeps its time, zone and status, the newest first; the timeline shows its newest entries."""
    lead = make_lead(name="Tess Timeline")
    start = datetime(2030, 1, 7, 17, 0, tzinfo=UTC)
    for days, status in ((0, BookingStatus.HELD), (7, BookingStatus.BOOKED)):
        at = start + timedelta(days=days, microseconds=250_000)
        db_session.add(Booking(lead_id=lead.id, start_at=at, end_at=at + timedelta(minutes=20),
                               slot_start=at, status=status, timezone="Europe/London"))  # fmt: skip
    first = datetime(2029, 1, 1, tzinfo=UTC)
    for i in range(TIMELINE_SHOWN + 5):
        db_session.add(LeadEvent(lead_id=lead.id, kind="note", summary=f"entry {i}",
                                 created_at=first + timedelta(hours=i)))  # fmt: skip
    db_session.commit()
    detail = lead_detail(db_session, lead.id)
    assert [(c.start_at, c.timezone, c.status) for c in detail.bookings] == [
        (start + timedelta(days=7, microseconds=250_000), "Europe/London", BookingStatus.BOOKED),
        (start + timedelta(microseconds=250_000), "Europe/London", BookingStatus.HELD),
    ]
    shown = [entry.summary for entry in detail.timeline if entry.summary.startswith("entry")]
    assert len(detail.timeline) == TIMELINE_SHOWN
    assert shown[0] == f"entry {TIMELINE_SHOWN + 4}" and "entry 4" not in shown
    assert detail.timeline[0].created_at == first + timedelta(hours=TIMELINE_SHOWN + 4)
    html = coach_client.get(f"/coach/leads/{lead.id}").get_data(as_text=True)
    assert html.index(f"entry {TIMELINE_SHOWN + 4}") < html.index(f"entry {TIMELINE_SHOWN}")
    assert "entry 4<" not in html


def test_the_offer_menu_lists_the_programmes_on_sale_by_name(db_session, make_lead):
    """Read in the lead's statement too: only a programme with an active price, by name."""

    def programme(name: str, *, on_sale: bool) -> Programme:
        price = Price(kind=PriceKind.ONE_TIME, amount_cents=9900, currency="usd", active=on_sale)
        row = Programme(name=name, description="A plan.", weeks=8, prices=[price])
        db_session.add(row)
        return row

    zeta, alpha = programme("Zeta 10K", on_sale=True), programme("Alpha 5K", on_sale=True)
    programme("Retired plan", on_sale=False)
    db_session.commit()
    detail = lead_detail(db_session, make_lead().id)
    assert detail.offer_programmes == [(alpha.id, "Alpha 5K"), (zeta.id, "Zeta 10K")]
