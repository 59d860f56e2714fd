"""The lead page joins the CRM to billing and the portal: send an offer in one click, the
enrolment with its payments, and the client page once the runner has a plan."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from crm.billing import offers
from crm.billing.checkout import complete_offline_checkout, fulfil_checkout, start_checkout
from crm.billing.models import Enrolment, Offer, Price, PriceKind, Programme
from crm.leads.models import Lead, Stage
from extensions import db
from programs.intake import submit_intake
from tests.factories import intake_values


def _programme(db_session, *, with_price: bool = True) -> Programme:
    programme = Programme(name="0 to 5K Hero", description="A personal plan.", weeks=12)
    if with_price:
        programme.prices = [Price(kind=PriceKind.ONE_TIME, amount_cents=29900, currency="usd")]
    db_session.add(programme)
    db_session.commit()
    return programme


def _enrol(db_session, lead: Lead, programme: Programme, coach) -> Enrolment:
    """Through the real path: offer → offline test checkout → fulfil_checkout."""
    offer = offers.send_offer(db_session, lead.id, programme.id, actor_id=coach.id)
    url = start_checkout(db_session, offers.offer_token(offer), programme.prices[0].id)
    session_id = url.rsplit("/", 1)[1]
    complete_offline_checkout(db_session, session_id)
    return fulfil_checkout(db_session, session_id)


def test_lead_page_offers_each_programme_on_sale_in_one_form(coach_client, make_lead, db_session):
    programme = _programme(db_session)
    _programme(db_session, with_price=False)  # nothing to sell yet: not offered
    lead = make_lead(name="Rosa Diaz", stage=Stage.CALL_HELD)
    html = coach_client.get(f"/coach/leads/{lead.id}").get_data(as_text=True)
    assert f'action="/coach/leads/{lead.id}/offer"' in html
    assert f'<option value="{programme.id}">0 to 5K Hero</option>' in html
    assert f'data-confirm="Email {lead.email} a payment link for this programme?"' in html
    offer_select = html.split('name="offer-programme_id"', 1)[1].split("</select>", 1)[0]
    assert "0 to 5K Hero" in offer_select and offer_select.count("<option") == 1


def test_sending_the_offer_from_the_lead_page_moves_her_to_offer_sent(
    coach_client, make_lead, db_session
):
    programme = _programme(db_session)
    lead = make_lead(name="Rosa Diaz", stage=Stage.CALL_HELD)
    page = f"http://localhost/coach/leads/{lead.id}"
    response = coach_client.post(
        f"/coach/leads/{lead.id}/offer",
        data={"offer-programme_id": str(programme.id)},
        headers={"Referer": page},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == page
    db_session.expire_all()
    assert db_session.get(Lead, lead.id).stage == Stage.OFFER_SENT
    assert db_session.scalar(select(Offer.programme_id).where(Offer.lead_id == lead.id)) == (
        programme.id
    )
    html = coach_client.get(f"/coach/leads/{lead.id}").get_data(as_text=True)
    assert "Offer sent to" in html and "/offer/" in html
    assert "Offer sent: 0 to 5K Hero" in html  # the timeline


def test_without_a_priced_programme_the_lead_page_says_what_to_do(coach_client, make_lead):
    lead = make_lead()
    html = coach_client.get(f"/coach/leads/{lead.id}").get_data(as_text=True)
    assert "No programme on sale yet" in html
    assert 'href="/coach/programmes/new"' in html
    assert f'action="/coach/leads/{lead.id}/offer"' not in html
    assert "Client page" not in html and 'id="client-h"' not in html


def test_enrolled_lead_links_to_her_billing_page_with_a_payment_summary(
    coach_client, make_lead, db_session, coach
):
    programme = _programme(db_session)
    lead = make_lead(name="Maya Brooks", email="maya@example.com", stage=Stage.CALL_HELD)
    enrolment = _enrol(db_session, lead, programme, coach)
    html = coach_client.get(f"/coach/leads/{lead.id}").get_data(as_text=True)
    assert f'href="/coach/enrolments/{enrolment.id}"' in html
    assert "Paid $299.00 in 1 payment" in html
    assert "Access active" in html
    # Already enrolled: no second offer from this page.
    assert f'action="/coach/leads/{lead.id}/offer"' not in html
    # An account but no plan yet: no client link, a word about the intake instead.
    assert "/coach/clients/" not in html
    assert "finishes her intake" in html
    # The billing page it points to is there for the coach.
    assert coach_client.get(f"/coach/enrolments/{enrolment.id}").status_code == 200


def test_refunds_and_failed_payments_show_in_the_summary(
    coach_client, make_lead, db_session, coach
):
    from crm.billing.models import PaymentStatus

    programme = _programme(db_session)
    lead = make_lead(name="Maya Brooks", email="maya@example.com")
    enrolment = _enrol(db_session, lead, programme, coach)
    payment = enrolment.payments[0]
    payment.refunded_cents = 5000
    payment.status = PaymentStatus.PARTIALLY_REFUNDED
    db_session.add(
        type(payment)(
            enrolment_id=enrolment.id,
            stripe_object_id="in_failed_1",
            amount_cents=11000,
            currency="usd",
            status=PaymentStatus.FAILED,
        )
    )
    db_session.commit()
    html = coach_client.get(f"/coach/leads/{lead.id}").get_data(as_text=True)
    assert "Paid $299.00 in 1 payment · refunded $50.00" in html
    assert "1 failed" in html


def test_client_page_link_appears_once_she_has_a_plan(coach_client, make_lead, db_session, coach):
    programme = _programme(db_session)
    lead = make_lead(name="Maya Brooks", email="maya@example.com")
    enrolment = _enrol(db_session, lead, programme, coach)
    submit_intake(
        db_session, enrolment.user_id, intake_values(date.today(), timezone="America/New_York")
    )
    html = coach_client.get(f"/coach/leads/{lead.id}").get_data(as_text=True)
    client_url = f"/coach/clients/{enrolment.user_id}"
    assert f'href="{client_url}"' in html
    assert "finishes her intake" not in html
    assert coach_client.get(client_url).status_code == 200


def test_lead_page_loads_payments_of_all_enrolments_in_one_query(
    coach_client, make_lead, db_session, coach
):
    """Enrolments load their programme, price and payments up front (no query per enrolment)."""
    from sqlalchemy import event

    programme = _programme(db_session)
    lead = make_lead(name="Maya Brooks", email="maya@example.com")
    _enrol(db_session, lead, programme, coach)
    # She comes back for a second block: a second offer, a second enrolment.
    lead.stage = Stage.CALL_HELD
    db.session.commit()
    _enrol(db_session, lead, programme, coach)
    assert len(db.session.scalars(select(Enrolment).where(Enrolment.lead_id == lead.id)).all()) == 2
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert coach_client.get(f"/coach/leads/{lead.id}").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert sum("FROM payments" in s for s in statements) == 1


def test_offer_menu_escapes_names_and_skips_programmes_with_no_active_price(
    coach_client, make_lead, db_session
):
    for name in ('Beta <b>x</b> & "co"', "Alpha 'one'"):
        programme = _programme(db_session)
        programme.name = name
    retired = _programme(db_session)
    retired.prices[0].active = False
    hidden = _programme(db_session)
    hidden.active = False
    db_session.commit()
    lead = make_lead(stage=Stage.NEW)
    html = coach_client.get(f"/coach/leads/{lead.id}").get_data(as_text=True)
    offer_select = html.split('name="offer-programme_id" required>', 1)[1].split("</select>")[0]
    labels = [o.split(">", 1)[1] for o in offer_select.split("</option>") if o]
    assert labels == ["Alpha &#39;one&#39;", "Beta &lt;b&gt;x&lt;/b&gt; &amp; &#34;co&#34;"]
