"""The dashboard's lists as HTML, built here rather than in the template: a hundred calls through
the template's autoescape (a call per value), `url_for` and the `when` filter cost more than the
rest of the page (as on the lead list, crm/leads/routes.py). Every value from the database goes
through escape(); the URLs are a prefix built once and an id, the labels ours."""

from __future__ import annotations

from collections.abc import Sequence

from flask import url_for
from markupsafe import Markup, escape
from sqlalchemy import Row

from crm.booking.models import BookingStatus
from crm.dashboard.services import Attention
from crm.time import when_formatter

# Each status as the page shows it, once: an enum's .value and a replace cost a call per row.
_STATUS = {status: status.value.replace("_", "-") for status in BookingStatus}
_CALL_LINK = (
    '\n      <a class="d-flex justify-content-between border rounded p-2 mb-2'
    ' text-decoration-none" href="'
)


def _lead_url() -> str:
    return url_for("leads.lead_detail", lead_id=0).removesuffix("0")  # one build, not one a row


def call_rows(today: Sequence[Row], upcoming: Sequence[Row], tz_name: str) -> tuple[Markup, Markup]:
    """Today's calls (time, name, status) and the upcoming ones (name, time), as links."""
    detail, when = _lead_url(), when_formatter(tz_name)
    today_html = [
        f'{_CALL_LINK}{detail}{b.lead_id}">\n'
        f"        <span><strong>{escape(when(b.start_at, b.timezone))}</strong>"
        f" {escape(b.lead_name)}</span>\n"
        f'        <span class="small text-muted">{_STATUS[b.status]}</span>\n'
        "      </a>\n    "
        for b in today
    ]
    upcoming_html = [
        f'{_CALL_LINK}{detail}{b.lead_id}">\n'
        f"        <span>{escape(b.lead_name)}</span>\n"
        f'        <span class="small">{escape(when(b.start_at, b.timezone))}</span>\n'
        "      </a>\n    "
        for b in upcoming
    ]
    return Markup("".join(today_html)), Markup("".join(upcoming_html))


def new_lead_rows(leads: Sequence[Row], tz_name: str) -> Markup:
    """This week's latest leads: name (a link) and when each arrived."""
    detail, when = _lead_url(), when_formatter(tz_name)
    return Markup(
        "".join(
            '\n            <li class="d-flex justify-content-between small py-1 border-top">\n'
            f'              <a href="{detail}{lead.id}" class="text-break">'
            f"{escape(lead.name)}</a>\n"
            f'              <span class="text-muted">{escape(when(lead.created_at))}</span>\n'
            "            </li>\n          "
            for lead in leads
        )
    )


def attention_rows(rows: Sequence[Attention]) -> Markup:
    """Clients who need her: the newest flag's kind and reason, and how many are open."""
    client = url_for("clients.client_detail", user_id=0).removesuffix("0")
    html = []
    for row in rows:
        kind = row.flag.kind.value
        more = (
            f'<span class="small text-muted">· {row.open_flags} open flags</span>'
            if row.open_flags > 1
            else ""
        )
        html.append(
            '\n      <a class="d-block border rounded p-2 mb-2 text-decoration-none"'
            f' href="{client}{row.user.id}#flags">\n'
            f'        <span class="badge text-bg-{"danger" if kind == "pain" else "warning"}'
            f' me-1">{kind}</span>\n'
            f"        <strong>{escape(row.user.display_name)}</strong>\n"
            f"        {more}\n"
            f'        <span class="d-block small text-muted">{escape(row.flag.reason)}</span>\n'
            "      </a>\n    "
        )
    return Markup("".join(html))
