"""The lead list pages forward with keyset cursors and back again with "Previous"."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from crm.leads import routes
from crm.leads.models import Lead, Stage

BASE = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def _leads(db_session, n: int) -> None:
    # Same-minute pairs, so the cursor's tie-break on id matters too.
    db_session.add_all(
        Lead(
            name=f"Lead {i:03d}",
            email=f"back{i}@example.com",
            stage=Stage.NEW,
            created_at=BASE + timedelta(minutes=i // 2),
        )  # fmt: skip
        for i in range(n)
    )
    db_session.commit()


def _page(client, url: str) -> tuple[list[str], str | None, str | None]:
    """Lead ids on the page, and its Previous and Next links."""
    response = client.get(url)
    assert response.status_code == 200, url
    text = response.get_data(as_text=True)
    ids = re.findall(r'href="/coach/leads/(\d+)"', text)

    def link(rel: str) -> str | None:
        found = re.search(rf'rel="{rel}" href="([^"]+)"', text)
        return html.unescape(found.group(1)) if found else None

    return ids, link("prev"), link("next")


@pytest.mark.parametrize("query", ["", "?sort=name", "?sort=oldest&q=lead"])
def test_paging_forward_then_back_returns_the_same_rows(coach_client, db_session, query):
    _leads(db_session, 130)  # pages of 50, 50 and 30
    url = f"/coach/leads{query}"
    forward = []
    while url:
        ids, prev, nxt = _page(coach_client, url)
        forward.append((url, ids))
        url = nxt
    assert [len(ids) for _, ids in forward] == [50, 50, 30]
    assert len({i for _, ids in forward for i in ids}) == 130

    ids, prev, _ = _page(coach_client, forward[-1][0])
    back = [ids]
    while prev:
        ids, prev, _ = _page(coach_client, prev)
        back.append(ids)
    assert back == [ids for _, ids in reversed(forward)]
    assert "sort=" not in forward[0][0] or all("sort=" in u for u, _ in forward)


def test_first_page_has_no_previous_and_second_goes_back_to_it(coach_client, db_session):
    _leads(db_session, 60)
    first, prev, nxt = _page(coach_client, "/coach/leads")
    assert prev is None and nxt is not None
    second, prev, nxt = _page(coach_client, nxt)
    assert nxt is None and "cursor" not in prev
    assert _page(coach_client, prev)[0] == first


def test_a_long_trail_is_trimmed_and_previous_stops_where_it_was_cut(
    coach_client, db_session, monkeypatch
):
    monkeypatch.setattr(routes, "TRAIL_MAX", 1)
    _leads(db_session, 160)  # four pages
    urls, url = [], "/coach/leads"
    while url:
        urls.append(url)
        url = _page(coach_client, url)[2]
    assert len(urls) == 4
    assert "trail=~." in urls[-1] and urls[-1].count(".") == 1  # one cursor kept, not two
    third, prev, _ = _page(coach_client, urls[-1])
    assert _page(coach_client, prev)[0] == _page(coach_client, urls[2])[0]
    # From there the trail was cut: no Previous, but "First page" still works.
    assert _page(coach_client, prev)[1] is None
    assert "First page" in coach_client.get(prev).get_data(as_text=True)


def test_a_tampered_trail_is_ignored(coach_client, db_session):
    _leads(db_session, 60)
    _, _, nxt = _page(coach_client, "/coach/leads")
    ids, prev, _ = _page(coach_client, nxt + "&trail=%3Cscript%3E.x")
    assert len(ids) == 10 and prev == "/coach/leads"
