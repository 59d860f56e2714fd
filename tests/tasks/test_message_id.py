"""Every email carries a Message-ID derived from its idempotency key (tasks.render.message_id_for).

Sending is exactly-once up to the SMTP server's OK: a worker that dies between the server's 250
and Hero's "sent" mark leaves a stale claim, and the sweeper's resend delivers that email a second
time. The repeat must carry the same Message-ID, so mail clients recognise it as the same message.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from crm.time import utcnow
from tasks import sender
from tasks.models import EmailStatus, OutboxEmail
from tasks.outbox import queue_email
from tasks.render import message_id_for


class WorkerKilled(BaseException):
    """What a SIGKILL between the SMTP OK and the "sent" mark looks like to the code after it."""


@pytest.fixture
def smtp(smtp_server, app, monkeypatch):
    smtp_server.reset()
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    yield smtp_server
    sender.pool.close_all()


def _queue(db_session, key: str, to: str = "dana@example.com") -> int:
    row = queue_email(
        db_session,
        to=to,
        template="password_reset",
        context={"first_name": "Dana", "token": "tok", "max_age_minutes": 60},
        idempotency_key=key,
    )
    db_session.commit()
    return row.id


def test_a_resend_after_a_crash_past_the_servers_ok_has_the_same_message_id(
    smtp, app_ctx, db_session, monkeypatch
):
    email_id = _queue(db_session, "reset:42:first")
    finish = sender._finish

    def killed_after_the_ok(marks, row, status, *args, **kwargs):
        if status == EmailStatus.SENT:
            raise WorkerKilled()
        return finish(marks, row, status, *args, **kwargs)

    monkeypatch.setattr(sender, "_finish", killed_after_the_ok)
    with pytest.raises(WorkerKilled):
        sender.send_email.apply(args=[email_id], throw=True)
    [first] = smtp.wait_for(1)
    db_session.rollback()
    assert db_session.get(OutboxEmail, email_id).status == EmailStatus.SENDING  # never marked

    # The claim goes stale; the sweeper's resend delivers the same row again.
    monkeypatch.setattr(sender, "_finish", finish)
    stale = utcnow() - timedelta(seconds=app_ctx.config["OUTBOX_STALE_SECONDS"] + 1)
    db_session.execute(
        update(OutboxEmail).where(OutboxEmail.id == email_id).values(claimed_at=stale)
    )
    db_session.commit()
    assert sender.send_email.apply(args=[email_id]).get() == "sent"
    first, second = smtp.wait_for(2)

    assert first["Message-ID"] == second["Message-ID"] == message_id_for("reset:42:first")
    db_session.expire_all()
    assert db_session.get(OutboxEmail, email_id).message_id == first["Message-ID"]


def test_two_different_emails_have_different_message_ids(smtp, app_ctx, db_session):
    ids = [_queue(db_session, "reset:42:first"), _queue(db_session, "reset:42:second")]
    for email_id in ids:
        assert sender.send_email.apply(args=[email_id]).get() == "sent"
    first, second = smtp.wait_for(2)
    assert first["Message-ID"] != second["Message-ID"]
    assert {first["Message-ID"], second["Message-ID"]} == {
        message_id_for("reset:42:first"),
        message_id_for("reset:42:second"),
    }


def test_the_message_id_is_a_valid_id_whatever_the_key(app_ctx):
    value = message_id_for("booking: 7 / Zoë <confirmation>@x")
    local, host = value.strip("<>").split("@")
    assert value.startswith("<") and value.endswith(">") and value.isascii()
    assert local.replace(".", "").isalnum() and host == "localhost"
