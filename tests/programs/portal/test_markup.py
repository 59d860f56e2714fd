"""The day page's pieces built in Python (programs/markup.py) escape what they are given."""

from __future__ import annotations

from types import SimpleNamespace

from programs.markup import choice_fieldset, hidden_input


def field(**kw):
    base = {
        "id": "pain_during",
        "name": "pain_during",
        "data": None,
        "errors": [],
        "choices": [],
        "label": SimpleNamespace(text="Pain during"),
    }
    return SimpleNamespace(**{**base, **kw})


def test_a_hidden_input_escapes_its_value_and_names():
    html = hidden_input(field(id='a"b', name="<n>"), '"><script>x</script>')
    assert "<script>" not in html
    assert 'id="a&#34;b"' in html and 'name="&lt;n&gt;"' in html
    assert 'value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in html


def test_a_hidden_input_carries_nothing_for_none():
    assert 'value=""' in hidden_input(field(), None)


def test_a_choice_row_escapes_its_label_errors_and_classes():
    choices = [SimpleNamespace(value=n, label=str(n)) for n in range(3)]
    html = choice_fieldset(
        field(choices=choices, data="1", errors=["<b>bad</b>"], label=SimpleNamespace(text="<i>")),
        "run_walk",
        cols='x" onclick="y',
    )
    assert "<b>" not in html and "&lt;b&gt;bad&lt;/b&gt;" in html
    assert '<legend class="form-label fs-6 fw-semibold mb-1">&lt;i&gt;</legend>' in html
    assert 'onclick="y' not in html
    assert 'id="pain_during-run_walk-1" value="1" autocomplete="off" checked' in html
