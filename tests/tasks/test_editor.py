"""The coach's template overrides: used by queue_email, rendered in a sandbox, edited on pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from crm.leads.followups import schedule_call_followups
from crm.leads.models import Stage
from tasks.models import EmailTemplateOverride, OutboxEmail
from tasks.outbox import queue_email
from tasks.overrides import TemplateRefused, save_override


def _reset(session, first_name="Dana", key="reset:1"):
    return queue_email(
        session,
        to="dana@example.com",
        template="password_reset",
        context={"first_name": first_name, "token": "tok123"},
        idempotency_key=key,
    )


def _save(session, subject="", body="", delays=None, template="password_reset"):
    return save_override(
        session,
        template,
        subject=subject,
        body=body,
        delays=delays,
        preview_context={"first_name": "Dana", "token": "tok"},
    )


def test_override_replaces_the_file_template_inside_the_layout(db_session):
    _save(
        db_session,
        subject="New password for {{ first_name }}",
        body="Hi **{{ first_name }}**,\n\n[Pick a new one]({{ base_url }}/reset/{{ token }})",
    )
    row = _reset(db_session)
    assert row.subject == "New password for Dana"
    assert "<strong>Dana</strong>" in row.html
    assert 'href="http://localhost/reset/tok123"' in row.html
    assert 'style="' in row.html  # still the layout, CSS inlined
    assert "Hi **Dana**" in row.text and "Las Vegas" in row.text  # footer kept


def test_subject_only_override_keeps_the_built_in_body(db_session):
    _save(db_session, subject="Reset, {{ first_name }}")
    row = _reset(db_session)
    assert row.subject == "Reset, Dana"
    assert "Someone (hopefully you) asked" in row.text


def test_contact_data_is_escaped_in_an_html_override_and_scripts_are_stripped(db_session):
    _save(db_session, body="<p>Hi {{ first_name }}</p><script>alert(1)</script>")
    row = _reset(db_session, first_name="<img src=x onerror=alert(1)>")
    assert "<img src=x" not in row.html and "&lt;img" in row.html
    assert "<script" not in row.html


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ first_name.__class__.__init__.__globals__ }}",
        "{{ first_name|attr('__class__') }}",
        "{{ first_name['__class__'] }}",
        "{{ 'x' * 100000000 }}",
        "{{ frist_name }}",
    ],
)
def test_unsafe_or_unknown_template_text_is_refused_and_not_stored(db_session, payload):
    with pytest.raises(TemplateRefused) as err:
        _save(db_session, body=payload)
    assert "body" in err.value.messages
    assert db_session.scalars(select(EmailTemplateOverride)).all() == []


def test_an_unsafe_override_that_reached_the_table_falls_back_to_the_file(db_session):
    db_session.add(
        EmailTemplateOverride(
            template="password_reset", subject="{{ ''.__class__ }}", body="{{ ''.__class__ }}"
        )
    )
    db_session.commit()
    row = _reset(db_session)
    assert row.subject == "Reset your 0 to 5K Hero password"
    assert "class" not in row.text and "Someone (hopefully you)" in row.text


def test_coach_delays_reschedule_the_follow_ups(db_session, make_lead):
    _save(db_session, template="call_followup", body="Hi {{ first_name }}", delays=[1, 24, 72])
    lead = make_lead(marketing_consent=True, stage=Stage.CALL_HELD)
    now = datetime(2030, 4, 1, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        schedule_call_followups(db_session, lead, "http://localhost/offer/1")
        db_session.commit()
    rows = db_session.scalars(select(OutboxEmail).order_by(OutboxEmail.due_at)).all()
    assert [r.due_at - now for r in rows] == [timedelta(hours=h) for h in (1, 24, 72)]
    assert rows[0].text.startswith("Hi ")


def test_delays_of_a_fixed_email_are_refused(db_session):
    with pytest.raises(TemplateRefused) as err:
        _save(db_session, body="Hi", delays=[3])
    assert "delays" in err.value.messages


# --- pages -------------------------------------------------------------------------------------


def test_sequences_page_lists_the_built_in_sequences(client, auth, coach):
    auth.login(coach)
    page = client.get("/coach/sequences")
    assert page.status_code == 200
    for label in (b"Weekly check-in", b"Post-call follow-up", b"Daily digest", b"No-show"):
        assert label in page.data


def test_runner_cannot_open_the_editor(client, auth, make_user):
    auth.login(make_user(role="runner"))
    assert client.get("/coach/sequences").status_code == 403


def test_coach_saves_previews_with_a_real_contact_and_sends_herself_a_test(
    client, auth, coach, db_session, make_lead
):
    lead = make_lead(name="Grace Hopper", email="grace@example.com")
    auth.login(coach)
    form = {"subject": "We missed you, {{ first_name }}", "body": "Book again: {{ book_url }}",
            "contact": f"lead:{lead.id}"}  # fmt: skip
    preview = client.post("/coach/sequences/no_show", data={**form, "action": "preview"})
    assert preview.status_code == 200 and b"We missed you, Grace" in preview.data
    assert db_session.scalars(select(EmailTemplateOverride)).all() == []  # a preview saves nothing
    saved = client.post("/coach/sequences/no_show", data={**form, "action": "save"})
    assert saved.status_code == 302
    refused = client.post(
        "/coach/sequences/no_show", data={**form, "body": "{{ ''.__class__ }}", "action": "save"}
    )
    assert refused.status_code == 200 and b"is-invalid" in refused.data
    client.post("/coach/sequences/no_show/test", data={"contact": f"lead:{lead.id}"})
    [test] = db_session.scalars(select(OutboxEmail)).all()
    assert test.to_email == coach.email and test.subject == "We missed you, Grace"
    assert "http://localhost/book" in test.text


def test_coach_pauses_and_resumes_a_contacts_automation(client, auth, coach, db_session, make_lead):
    lead = make_lead()
    auth.login(coach)
    url = f"/coach/leads/{lead.id}/automation"
    assert client.post(url, data={"paused": "1"}).status_code == 302
    db_session.refresh(lead)
    assert lead.automation_paused
    client.post(url, data={"paused": "0"})
    db_session.refresh(lead)
    assert not lead.automation_paused
    assert client.post("/coach/leads/999999/automation", data={"paused": "1"}).status_code == 404
