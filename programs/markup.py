"""Small pieces of the portal's pages built in Python: Jinja macros called per row or per field
were most of the day page's rendering (a macro call costs microseconds, a function call far less).

The rows of tap targets (a radio input and its button-like label per choice) are also kept per
process: the day page carries sixty to a hundred and fifty of them (status, effort, pain,
next-morning pain, each exercise's rating and pain); as Jinja loops they cost about 8 us each.
A row is a pure function of its arguments (name, ids, the choices and which one is ticked), so
the cache can never serve a stale row, in this process or any other.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from markupsafe import Markup, escape

# (value, label, the label's button classes)
Button = tuple[str, str, str]

STATUS_BUTTONS: tuple[Button, ...] = (
    ("done", "✓ Done", "btn-outline-success btn-lg"),
    ("partial", "½ Partly", "btn-outline-warning btn-lg"),
    ("skipped", "Skipped", "btn-outline-secondary btn-lg"),
)
RATING_BUTTONS: tuple[Button, ...] = (
    ("easy", "Too easy", "btn-outline-primary"),
    ("right", "About right", "btn-outline-success"),
    ("hard", "Too hard", "btn-outline-warning"),
)
FEEDBACK_PAIN_BUTTONS: tuple[Button, ...] = tuple(
    (str(n), str(n), "btn-outline-danger") for n in range(11)
)


def radio_buttons(
    name: str,
    id_prefix: str,
    buttons: Iterable,
    checked: object = None,
    css: str = "btn-outline-primary",
) -> Markup:
    """One radio input and its label per button, ids ``{id_prefix}-{value}``; the one whose value
    is ``str(checked)`` is ticked. ``buttons`` is a tuple of (value, label, css) or a WTForms
    field's choices, every label then styled with ``css``."""
    if not isinstance(buttons, tuple):
        buttons = tuple((str(c.value), c.label, css) for c in buttons)
    return _row(name, id_prefix, buttons, None if checked is None else str(checked))


@lru_cache(maxsize=1024)
def _row(name: str, id_prefix: str, buttons: tuple[Button, ...], checked: str | None) -> Markup:
    name, id_prefix = escape(name), escape(id_prefix)
    out = []
    for value, label, css in buttons:
        fid = f"{id_prefix}-{escape(value)}"
        tick = " checked" if value == checked else ""
        out.append(
            f'<input type="radio" class="btn-check" name="{name}" id="{fid}" '
            f'value="{escape(value)}" autocomplete="off"{tick}>\n'
            f'<label class="btn {escape(css)}" for="{fid}">{escape(label)}</label>\n'
        )
    return Markup("".join(out))


def hidden_input(field, value: object) -> Markup:
    """A WTForms field as a hidden input carrying `value` ('' for None)."""
    value = "" if value is None else value
    return Markup(
        f'<input id="{escape(field.id)}" name="{escape(field.name)}" type="hidden" '
        f'value="{escape(value)}">'
    )


def choice_fieldset(field, kind: str, css: str = "btn-outline-primary", cols: str = "") -> Markup:
    """A WTForms radio field as a row of tap targets in its fieldset, with its errors; ids are
    ``{field name}-{kind}-{value}``, so the same field can sit on a page once per session."""
    errors = "".join(
        f'<div class="invalid-feedback d-block">{escape(e)}</div>' for e in field.errors
    )
    buttons = radio_buttons(field.name, f"{field.name}-{kind}", field.choices, field.data, css)
    return Markup(
        '\n<fieldset class="mb-3">\n'
        f'  <legend class="form-label fs-6 fw-semibold mb-1">{escape(field.label.text)}</legend>\n'
        f'  <div class="choice-row {escape(cols)}" role="radiogroup">\n'
        f"    {buttons}\n"
        "  </div>\n"
        f"  {errors}\n"
        "</fieldset>\n"
    )


SEGMENT_LABELS = {
    "warmup": "Warm-up walk",
    "cooldown": "Cool-down walk",
    "run": "Run",
    "walk": "Walk",
}


def clock(seconds: int) -> str:
    """Seconds as m:ss."""
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def segment_label(kind: str) -> str:
    return SEGMENT_LABELS.get(kind, kind)


def dose(item) -> str:
    """A strength item's dose: '3 × 10 reps each side', '2 × 30 s hold'."""
    amount = f"{item.reps} reps" if item.reps is not None else f"{item.seconds} s hold"
    return f"{item.sets} × {amount}{' each side' if item.per_side else ''}"
