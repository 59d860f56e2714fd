from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from crm.booking.models import CoachSettings
from crm.leads import routes, services
from crm.leads.models import Stage
from crm.leads.services import LeadFilters, list_leads
from extensions import db
from tests.querycount import statements_for

BASE = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def _all_pages(session, filters, limit):
    ids, cursor, pages = [], None, 0
    while True:
        page = list_leads(session, filters, cursor=cursor, limit=limit)
        ids.extend(lead.id for lead in page.items)
        pages += 1
        if page.next_cursor is None:
            return ids, pages
        cursor = page.next_cursor


@pytest.mark.parametrize("sort", ["newest", "oldest", "name"])
def test_keyset_pages_cover_every_lead_once_in_order(db_session, make_lead, sort):
    # Ties on the sort key (same created_at, same name) are where naive keysets lose rows.
    for i in range(23):
        make_lead(name=f"Runner {i % 4}", created_at=BASE + timedelta(hours=i // 3))
    filters = LeadFilters(sort=sort)
    ids, pages = _all_pages(db_session, filters, limit=5)
    expected = [lead.id for lead in list_leads(db_session, filters, limit=200).items]
    assert len(ids) == len(set(ids)) == 23
    assert ids == expected
    assert pages == 5


def test_sort_orders(db_session, make_lead):
    old = make_lead(name="Zoe Old", created_at=BASE)
    new = make_lead(name="Amy New", created_at=BASE + timedelta(days=1))
    assert [x.id for x in list_leads(db_session, LeadFilters()).items] == [new.id, old.id]
    assert [x.id for x in list_leads(db_session, LeadFilters(sort="oldest")).items] == [
        old.id,
        new.id,
    ]
    assert [x.id for x in list_leads(db_session, LeadFilters(sort="name")).items] == [
        new.id,
        old.id,
    ]


def test_search_is_case_insensitive_over_name_email_and_phone(db_session, make_lead):
    by_name = make_lead(name="Maria GARCIA", email="m1@example.com")
    by_email = make_lead(name="Someone", email="garcia.fan@example.com")
    by_phone = make_lead(name="Phone Person", phone="+1 702 555 0199")
    make_lead(name="Nobody", email="nobody@example.com")

    def found(q):
        return {x.id for x in list_leads(db_session, LeadFilters(q=q)).items}

    assert found("garcia") == {by_name.id, by_email.id}
    assert found("555 01") == {by_phone.id}
    assert found("100%_") == set()  # wildcards are literal


def test_filters_by_stage_source_and_created_dates(db_session, make_lead):
    hit = make_lead(stage=Stage.LOST, source="instagram", created_at=BASE)
    make_lead(stage=Stage.NEW, source="instagram", created_at=BASE)
    make_lead(stage=Stage.LOST, source="google", created_at=BASE)
    make_lead(stage=Stage.LOST, source="instagram", created_at=BASE + timedelta(days=5))
    filters = LeadFilters(
        stage=Stage.LOST,
        source="instagram",
        created_from=date(2025, 3, 9),
        created_to=date(2025, 3, 11),
    )
    assert [x.id for x in list_leads(db_session, filters, tz_name="UTC").items] == [hit.id]
    assert services.count_leads(db_session, filters) == 1


def test_created_dates_are_days_in_the_coachs_time_zone(db_session, make_lead):
    # 2025-03-10 03:00 UTC is still March 9 in Los Angeles.
    lead = make_lead(created_at=datetime(2025, 3, 10, 3, 0, tzinfo=UTC))
    day9 = LeadFilters(created_from=date(2025, 3, 9), created_to=date(2025, 3, 9))
    assert [x.id for x in list_leads(db_session, day9, tz_name="America/Los_Angeles").items] == [
        lead.id
    ]
    assert list_leads(db_session, day9, tz_name="UTC").items == []


def test_a_cursor_for_another_sort_is_refused(db_session, make_lead):
    for _ in range(3):
        make_lead()
    page = list_leads(db_session, LeadFilters(), limit=1)
    with pytest.raises(services.LeadError):
        list_leads(db_session, LeadFilters(sort="name"), cursor=page.next_cursor)
    with pytest.raises(services.LeadError):
        list_leads(db_session, LeadFilters(), cursor="not-a-cursor")


def test_list_page_shows_filtered_leads_and_next_link(coach_client, make_lead):
    for i in range(55):
        make_lead(name=f"Page Lead {i}", created_at=BASE + timedelta(minutes=i))
    response = coach_client.get("/coach/leads")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Page Lead 54" in html and "Page Lead 4<" not in html
    assert "55 found" in html
    assert "cursor=" in html
    second = coach_client.get("/coach/leads?stage=new&q=lead+4")
    assert "Page Lead 4" in second.get_data(as_text=True)


def test_garbled_cursor_sends_the_coach_back_to_the_first_page(coach_client, make_lead):
    make_lead()
    response = coach_client.get("/coach/leads?cursor=garbage&q=x")
    assert response.status_code == 302
    assert "cursor" not in response.headers["Location"]


def test_invalid_date_range_is_reported_not_a_500(coach_client):
    response = coach_client.get("/coach/leads?created_from=2025-03-10&created_to=2025-03-01")
    assert response.status_code == 400
    assert "before the start date" in response.get_data(as_text=True)


def test_empty_list_tells_the_coach_to_share_her_booking_link(coach_client):
    html = coach_client.get("/coach/leads").get_data(as_text=True)
    assert "No leads yet" in html
    assert "/book" in html


def test_list_page_query_count_does_not_grow_with_rows(coach_client, make_lead):
    for _ in range(5):
        make_lead()
    few = statements_for(coach_client, "/coach/leads")
    for _ in range(45):
        make_lead(source="instagram")
    many = statements_for(coach_client, "/coach/leads")
    assert few == many
    assert many <= 6


def test_csv_export_has_the_filtered_leads_and_defuses_formulas(coach_client, make_lead):
    make_lead(name="=HYPERLINK(evil)", email="a@example.com", stage=Stage.LOST, lost_reason="x")
    make_lead(name="Kept Out", email="b@example.com", stage=Stage.NEW)
    response = coach_client.get("/coach/leads/export.csv?stage=lost")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["id", "name", "email"]
    assert len(rows) == 2
    assert rows[1][1] == "'=HYPERLINK(evil)"
    assert rows[1][2] == "a@example.com"


def test_csv_export_streams_every_page(coach_client, make_lead, monkeypatch):
    for _ in range(7):
        make_lead()
    original = services.iter_leads
    monkeypatch.setattr(services, "iter_leads", lambda *a, **kw: original(*a, **{**kw, "batch": 3}))
    rows = list(
        csv.reader(io.StringIO(coach_client.get("/coach/leads/export.csv").get_data(as_text=True)))
    )
    assert len(rows) == 8
    assert len({r[0] for r in rows[1:]}) == 7


def test_source_menu_lists_each_source_once_in_order(db_session, make_lead):
    for source in ("instagram", "direct", "instagram", "google", "direct"):
        make_lead(source=source)
    _tz, sources = services.timezone_and_sources(db_session)
    assert sources == ["direct", "google", "instagram"]


def test_source_menu_is_empty_without_leads_and_the_zone_still_read(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "COACH_TIMEZONE", "Europe/Paris")
    assert services.timezone_and_sources(db_session) == ("Europe/Paris", [])
    db_session.add(CoachSettings(timezone="Asia/Tokyo"))
    db_session.commit()
    assert services.timezone_and_sources(db_session) == ("Asia/Tokyo", [])


def test_count_stops_past_the_cap(db_session, make_lead):
    for _ in range(7):
        make_lead()
    assert services.count_leads(db_session, LeadFilters(), cap=5) == 6
    assert services.count_leads(db_session, LeadFilters(), cap=10) == 7
    assert services.count_leads(db_session, LeadFilters()) == 7


def test_list_heading_says_cap_plus_past_the_cap(coach_client, make_lead, monkeypatch):
    monkeypatch.setattr(services, "COUNT_CAP", 3)
    for i in range(services.PAGE_SIZE + 1):  # two pages: the first cannot count itself
        make_lead(name=f"Capped {i}")
    html = coach_client.get("/coach/leads").get_data(as_text=True)
    assert "3+ found" in html


def test_one_page_of_results_is_counted_without_a_count_query(coach_client, make_lead):
    make_lead(name="Only Garcia")
    make_lead(name="Someone Else")
    queries: list[str] = []

    def before(conn, cursor, statement, *args):
        queries.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        html = coach_client.get("/coach/leads?q=garcia").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    assert "1 found" in html
    assert not any("count(" in q.lower() for q in queries)


def test_the_list_escapes_what_leads_typed(coach_client, make_lead):
    make_lead(
        name="Dana <b>Runner</b>",
        email="dana+<x>@example.com",
        phone='555 "1"',
        source="<script>alert(1)</script>",
    )
    html = coach_client.get("/coach/leads").get_data(as_text=True)
    assert "Dana &lt;b&gt;Runner&lt;/b&gt;" in html and "<b>Runner" not in html
    assert html.count("dana+&lt;x&gt;@example.com") == 2  # its cell, and under the name on a phone
    assert "555 &quot;1&quot;" in html and '555 "1"' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html


def test_zone_and_sources_ride_with_the_rows_unless_a_date_filter_needs_the_zone_first(
    coach_client, make_lead
):
    make_lead(source="instagram")
    make_lead(source="<b>friend</b>")
    assert statements_for(coach_client, "/coach/leads") == 2  # the user, the page
    html = coach_client.get("/coach/leads").get_data(as_text=True)
    assert '<option value="&lt;b&gt;friend&lt;/b&gt;">&lt;b&gt;friend&lt;/b&gt;</option>' in html
    assert '<option value="instagram">instagram</option>' in html
    assert statements_for(coach_client, "/coach/leads?created_from=2020-01-01") == 3
    assert statements_for(coach_client, "/coach/leads?q=zzz-no-match") == 3  # empty: zone after


def test_the_blank_filters_are_the_form_a_filtered_page_shows(coach_client, make_lead):
    """With no filter in the URL the form is rendered once per process, not built and validated
    per request: it is the same markup as the form of a page that asks for the defaults."""
    make_lead(source="instagram")

    def filters_of(url: str) -> str:
        html = coach_client.get(url).get_data(as_text=True)
        start = html.index('<form method="get"')
        return html[start : html.index("</form>", start)]

    blank = filters_of("/coach/leads")
    assert blank == filters_of("/coach/leads?sort=newest&q=")
    assert '<option value="instagram">instagram</option>' in blank
    make_lead(source="podcast")  # a new source: the menu has it at once
    assert '<option value="podcast">podcast</option>' in filters_of("/coach/leads")
    assert 'value="Garcia"' in filters_of("/coach/leads?q=Garcia")


def test_a_row_seen_before_shows_what_changed_since(coach_client, make_lead, db_session):
    """Each row's HTML is kept by everything it shows: a lead renamed or moved on since the list
    was last seen shows as she is now, never as the kept HTML had her."""
    lead = make_lead(name="Rita Before", source="instagram")
    before = coach_client.get("/coach/leads").get_data(as_text=True)
    assert "Rita Before" in before and routes._BADGES[Stage.CALL_BOOKED] not in before
    lead.name = "Rita After"
    lead.stage = Stage.CALL_BOOKED
    db_session.commit()
    html = coach_client.get("/coach/leads").get_data(as_text=True)
    assert "Rita After" in html and "Rita Before" not in html
    assert routes._BADGES[Stage.CALL_BOOKED] in html


def test_the_kept_rows_stay_bounded(coach_client, make_lead, monkeypatch):
    monkeypatch.setattr(routes._row_html, "size", 3)
    routes._row_html.clear()
    for i in range(8):
        make_lead(name=f"Bounded {i}")
    html = coach_client.get("/coach/leads").get_data(as_text=True)
    assert all(f"Bounded {i}" in html for i in range(8))
    assert len(routes._row_html) <= 3
