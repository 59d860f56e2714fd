"""`blank_form`: what a GET page reads of a form, without building it, reads as the form does."""

from __future__ import annotations

from flask import render_template_string
from flask_wtf.csrf import generate_csrf

from crm.forms import blank_form
from programs.forms import LogForm, MorningPainForm

LOG_FORM = """{% from "portal/_log_form.html" import log_form %}{{ log_form(form, s, false) }}"""


class _Session:
    kind = "run_walk"


def _real(values: dict) -> LogForm:
    form = LogForm(formdata=None)
    for name, value in values.items():
        form[name].data = value
    return form


def test_the_log_form_renders_the_same_from_a_blank_form_as_from_the_form(app_ctx):
    app_ctx.config["WTF_CSRF_ENABLED"] = True
    try:
        for values in (
            {"session_date": "2026-12-05", "kind": "run_walk"},
            {"session_date": "2026-12-05", "kind": "run_walk", "status": "partial",
             "effort": "7", "pain_during": "0", "note": 'knee "tight" <ok>'},
        ):  # fmt: skip
            with app_ctx.test_request_context("/portal"):
                real = render_template_string(LOG_FORM, form=_real(values), s=_Session)
                plain = render_template_string(
                    LOG_FORM, form=blank_form(LogForm, **values), s=_Session
                )
            assert plain == real
            assert 'value="2026-12-05"' in plain and 'name="csrf_token"' in plain
            assert ("&lt;ok&gt;" in plain) == ("note" in values)
    finally:
        app_ctx.config["WTF_CSRF_ENABLED"] = False


def test_fields_carry_the_forms_shape_the_given_data_and_no_errors(app_ctx):
    with app_ctx.test_request_context("/portal"):
        form = blank_form(MorningPainForm, log_id=42)
        real = MorningPainForm(formdata=None)
        assert form.log_id.data == 42 and form.pain_next_morning.data is None
        assert form.pain_next_morning.label.text == real.pain_next_morning.label.text
        assert [c.value for c in form.pain_next_morning.choices] == [
            c.value for c in real.pain_next_morning.choices
        ]
        assert form.pain_next_morning.errors == ()
        assert not hasattr(form, "csrf_token")  # CSRF is off in this test app
        app_ctx.config["WTF_CSRF_ENABLED"] = True
        try:
            assert blank_form(MorningPainForm).csrf_token.current_token == generate_csrf()
        finally:
            app_ctx.config["WTF_CSRF_ENABLED"] = False
