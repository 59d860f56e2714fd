"""The coach's own email texts run in a sandbox with limits: a loop cannot count past a bound,
all loops together have a step budget, a render has a time limit, and a text over a limit gets a
clear form error — never a 500 and never a hung worker."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from tasks.models import EmailTemplateOverride
from tasks.overrides import MAX_RANGE, RENDER_SECONDS, TemplateRefused, validate_override
from tasks.render import render_email

TEMPLATE = "weekly_checkin"
NESTED = (
    "".join("{% for i" + str(n) + " in range(1000) %}" for n in range(4))
    + "x"
    + ("{% endfor %}" * 4)
)
HEAVY = {
    "a loop of a billion": "{% for i in range(10**9) %}x{% endfor %}",
    "a billion without **": "{% for i in range(1000000000) %}x{% endfor %}",
    "nested loops": "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
    "deeply nested loops": NESTED,
    "loops over a long string": "{% set s = 'ab' * 5000 %}"
    "{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "a padding method": "{{ first_name.center(100000000) }}",
    "a sizing filter": "{{ first_name|center(100000000) }}",
    "a macro that doubles": "{% macro f(s, n) %}{% if n %}{{ f(s ~ s, n - 1) }}{% endif %}"
    "{% endmacro %}{{ f('x', 40) }}",
    "division by zero": "{{ 1 / 0 }}",
    "adding text to a number": "{{ 'a' + 1 }}",
}


@pytest.mark.parametrize("body", list(HEAVY.values()), ids=list(HEAVY))
def test_a_heavy_text_is_refused_quickly_with_a_message(app_ctx, body):
    started = time.monotonic()
    with pytest.raises(TemplateRefused) as refused:
        validate_override(TEMPLATE, "", body, None, {"first_name": "Maya"})
    assert time.monotonic() - started < RENDER_SECONDS + 2
    assert refused.value.messages.get("body")


def test_an_ordinary_loop_still_works(app_ctx):
    validate_override(
        TEMPLATE, "Week {{ week }}", "{% for i in range(3) %}- step {{ i }}\n{% endfor %}", None,
        {"first_name": "Maya", "week": "2030-W10"},
    )  # fmt: skip
    with pytest.raises(TemplateRefused, match=f"{MAX_RANGE:,}"):
        validate_override(TEMPLATE, "", "{% for i in range(1001) %}{% endfor %}", None, {})


def test_the_render_time_limit_stops_slow_work(app_ctx, monkeypatch):
    import tasks.overrides as overrides

    monkeypatch.setattr(overrides, "RENDER_SECONDS", 0.0)
    with pytest.raises(TemplateRefused, match="longer than"):
        validate_override(TEMPLATE, "", "{% for i in range(5) %}x{% endfor %}", None, {})


@pytest.mark.parametrize("action", ["save", "preview"])
@pytest.mark.parametrize("body", [HEAVY["a billion without **"], HEAVY["nested loops"]])
def test_the_editor_shows_a_form_error_not_a_500(client, auth, coach, db_session, action, body):
    auth.login(coach)
    started = time.monotonic()
    response = client.post(
        f"/coach/sequences/{TEMPLATE}",
        data={"subject": "", "body": body, "delays": "", "contact": "", "action": action},
    )
    assert time.monotonic() - started < RENDER_SECONDS + 5
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Refused:" in page
    assert db_session.scalar(select(EmailTemplateOverride)) is None


def test_a_stored_text_over_the_limits_falls_back_to_the_built_in_email(app_ctx):
    # A text saved before the limits existed is not re-validated: sending it must not hang.
    row = EmailTemplateOverride(template=TEMPLATE, subject="", body=HEAVY["nested loops"])
    started = time.monotonic()
    subject, html, text = render_email(
        TEMPLATE, {"first_name": "Maya", "week": "2030-W10", "sessions": []},
        to="maya@example.com", category="transactional", override=row,
    )  # fmt: skip
    assert time.monotonic() - started < RENDER_SECONDS + 2
    assert "Maya" in text
