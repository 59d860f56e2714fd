"""Public pages a shared cache can serve: anonymous visitors get `public` responses with a strong
ETag and no cookie, revalidate with a 304; signed-in visitors get `no-store`; the booking form's
CSRF protection holds with a token fetched when the visitor starts the form."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from crm.booking import availability as coach_availability
from crm.booking.models import Booking
from crm.site import services as site_services
from tests.conftest import sign_in
from tests.querycount import recorded_statements

PUBLIC_PAGES = ["/", "/articles", "/articles/hips-before-knees", "/articles/feed.xml",
                "/sitemap.xml", "/book", "/api/v1/slots?days=7"]  # fmt: skip


@pytest.fixture
def article(db_session, coach):
    from crm.articles.services import save_article

    return save_article(
        db_session, author_id=coach.id, title="Hips before knees", body="Hips.\n\n[[cta]]\n",
        status="published",
    )  # fmt: skip


@pytest.fixture
def anonymous(app_ctx, db_session):
    coach_availability.ensure_default_availability(db_session)
    return app_ctx.test_client(use_cookies=False)


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_anonymous_visitors_get_a_public_cacheable_response_without_a_cookie(
    anonymous, article, url
):
    response = anonymous.get(url)
    assert response.status_code == 200
    cc = response.cache_control
    assert cc.public and cc.s_maxage and cc.s_maxage <= 300
    assert int(cc["stale-while-revalidate"]) > 0
    assert cc.max_age == 0 and not cc.no_store and not cc.private
    etag, weak = response.get_etag()
    assert etag and not weak
    assert "Set-Cookie" not in response.headers
    assert "csrf_token" not in response.get_data(as_text=True) or url == "/book"


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_a_revalidation_with_the_etag_gets_304(anonymous, article, url):
    first = anonymous.get(url)
    again = anonymous.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.cache_control.public
    assert "Set-Cookie" not in again.headers


def test_a_compressed_response_revalidates_too(anonymous, article):
    first = anonymous.get("/articles", headers={"Accept-Encoding": "br"})
    assert first.headers["Content-Encoding"] == "br"
    assert first.headers["ETag"].endswith(':br"')
    again = anonymous.get(
        "/articles", headers={"Accept-Encoding": "br", "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304


def test_landing_and_articles_revalidate_without_a_query_or_a_render(anonymous, article):
    for url in ("/", "/articles", "/articles/hips-before-knees"):
        etag = anonymous.get(url).headers["ETag"]
        assert statements_for_304(anonymous, url, etag) == 0


def statements_for_304(client, url: str, etag: str) -> int:
    with recorded_statements() as seen:
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    return len(seen)


def test_the_etag_changes_when_the_content_does(anonymous, article, db_session, coach):
    from crm.articles.services import save_article

    before = {url: anonymous.get(url).headers["ETag"] for url in ("/", "/articles")}
    site_services.save_landing_copy(db_session, {"headline": "A new headline"})
    save_article(db_session, author_id=coach.id, title="Second", body="More.", status="published")
    after = {url: anonymous.get(url).headers["ETag"] for url in ("/", "/articles")}
    assert before["/"] != after["/"] and before["/articles"] != after["/articles"]
    stale = anonymous.get("/articles", headers={"If-None-Match": before["/articles"]})
    assert stale.status_code == 200 and "Second" in stale.get_data(as_text=True)


def test_vary_names_the_cookie_only_where_the_page_reads_the_session(anonymous, article):
    html = anonymous.get("/articles", headers={"Accept-Encoding": "gzip"})
    feed = anonymous.get("/articles/feed.xml", headers={"Accept-Encoding": "gzip"})
    assert {v.strip() for v in html.headers["Vary"].split(",")} == {"Cookie", "Accept-Encoding"}
    assert {v.strip() for v in feed.headers["Vary"].split(",")} == {"Accept-Encoding"}


@pytest.mark.parametrize(
    "url", ["/", "/articles", "/articles/hips-before-knees", "/book", "/api/v1/slots?days=7"]
)
def test_signed_in_visitors_get_no_store(client, auth, coach, article, db_session, url):
    coach_availability.ensure_default_availability(db_session)
    auth.login(coach)
    response = client.get(url)
    assert response.status_code == 200
    assert response.cache_control.no_store and response.cache_control.private
    assert not response.cache_control.public


def test_a_signed_in_page_stays_private(client, auth, coach):
    auth.login(coach)
    response = client.get("/coach")
    assert not response.cache_control.public


# --- the booking form's CSRF token ---------------------------------------------------------------


@pytest.fixture
def csrf_on(app_ctx):
    app_ctx.config["WTF_CSRF_ENABLED"] = True
    yield
    app_ctx.config["WTF_CSRF_ENABLED"] = False


def _booking(db_session):
    coach_availability.ensure_default_availability(db_session)
    slot = coach_availability.free_slots(db_session, days=14)[0]
    tz = "America/New_York"
    return {"slot": slot.start.astimezone(ZoneInfo(tz)).isoformat(), "tz": tz,
            "name": "Jo Runner", "email": "jo@example.com"}  # fmt: skip


def test_the_cached_booking_page_carries_no_token_and_the_token_url_sets_the_session(
    app_ctx, db_session, csrf_on
):
    browser = app_ctx.test_client()
    _booking(db_session)
    page = browser.get("/book")
    assert "Set-Cookie" not in page.headers and page.cache_control.public
    html = page.get_data(as_text=True)
    assert 'name="csrf_token" value=""' in html and 'data-token-url="/form-token"' in html
    token = browser.get("/form-token")
    assert token.cache_control.no_store and "session=" in token.headers["Set-Cookie"]
    assert token.get_json()["csrf_token"]


def test_a_booking_without_the_token_is_refused_and_with_it_works(app_ctx, db_session, csrf_on):
    browser = app_ctx.test_client()
    data = _booking(db_session)
    browser.get("/book")
    refused = browser.post("/book", data=data)
    assert refused.status_code == 400
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 0
    html = refused.get_data(as_text=True)
    assert "CSRF" in html and 'value="Jo Runner"' in html  # her input kept, a token given
    assert refused.cache_control.no_store

    token = browser.get("/form-token").get_json()["csrf_token"]
    forged = browser.post("/book", data={**data, "csrf_token": token[:-2] + "xx"})
    assert forged.status_code == 400
    booked = browser.post("/book", data={**data, "csrf_token": token})
    assert booked.status_code == 302, booked.get_data(as_text=True)[:400]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Booking)) == 1


def test_a_token_from_another_visitor_is_refused(app_ctx, db_session, csrf_on):
    data = _booking(db_session)
    mallory, victim = app_ctx.test_client(), app_ctx.test_client()
    token = mallory.get("/form-token").get_json()["csrf_token"]
    victim.get("/form-token")
    assert victim.post("/book", data={**data, "csrf_token": token}).status_code == 400


def test_a_revalidation_within_the_version_ttl_is_answered_before_flask(app_ctx, anonymous,
                                                                       article, coach):  # fmt: skip
    first = anonymous.get("/articles")
    again = anonymous.get("/articles", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and "X-Request-ID" not in again.headers  # no Flask hook ran
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.cache_control.public and "Cookie" in again.headers["Vary"]
    signed_in = app_ctx.test_client()
    sign_in(signed_in, coach)
    mine = signed_in.get("/articles", headers={"If-None-Match": first.headers["ETag"]})
    assert mine.status_code == 200 and mine.cache_control.no_store


def test_the_next_anonymous_visitor_gets_the_rendered_copy_before_flask(app_ctx, anonymous,
                                                                      article, coach):  # fmt: skip
    first = anonymous.get("/articles/hips-before-knees")
    assert "X-Request-ID" in first.headers  # rendered by the app
    statements, again = counted(lambda: anonymous.get("/articles/hips-before-knees"))
    assert again.status_code == 200 and "X-Request-ID" not in again.headers
    assert statements == 0
    assert again.get_data() == first.get_data()
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.cache_control.public and "Set-Cookie" not in again.headers
    # A hard reload asks for a fresh copy: the app renders it.
    fresh = anonymous.get("/articles/hips-before-knees", headers={"Cache-Control": "no-cache"})
    assert "X-Request-ID" in fresh.headers and fresh.get_data() == first.get_data()
    # Each Accept-Encoding gets its own copy, in its own encoding.
    br = anonymous.get("/articles/hips-before-knees", headers={"Accept-Encoding": "br"})
    assert br.headers["Content-Encoding"] == "br" and "X-Request-ID" in br.headers
    br_again = anonymous.get("/articles/hips-before-knees", headers={"Accept-Encoding": "br"})
    assert br_again.get_data() == br.get_data() and "X-Request-ID" not in br_again.headers
    # A signed-in visitor never gets the anonymous copy.
    signed_in = app_ctx.test_client()
    sign_in(signed_in, coach)
    mine = signed_in.get("/articles/hips-before-knees")
    assert "X-Request-ID" in mine.headers and mine.cache_control.no_store


def test_a_write_in_this_process_drops_the_copies(app_ctx, anonymous, article):
    """A booking made here shows on the next visitor's /book at once (another process's within
    caching.VERSION_TTL)."""
    page = anonymous.get("/book?tz=UTC").get_data(as_text=True)
    slot = re.search(r'name="slot" id="[^"]+" value="([^"]+)"', page)[1]
    assert "X-Request-ID" not in anonymous.get("/book?tz=UTC").headers  # the copy
    booked = anonymous.post("/book", data={"slot": slot, "tz": "UTC", "name": "Ana Lima",
                                           "email": "ana@example.com"})  # fmt: skip
    assert booked.status_code == 302
    after = anonymous.get("/book?tz=UTC")
    assert "X-Request-ID" in after.headers  # rendered again
    assert f'value="{slot}"' in page and f'value="{slot}"' not in after.get_data(as_text=True)


def test_what_a_process_keeps_is_bounded(app_ctx, anonymous, article, monkeypatch):
    from crm.site.caching import RevalidationShortcut

    monkeypatch.setattr(RevalidationShortcut, "MAX_COPIES", 3)
    monkeypatch.setattr(RevalidationShortcut, "MAX_PAGES", 4)
    for i in range(10):
        anonymous.get(f"/articles?page={i}")
    shortcut = app_ctx.extensions["hero_revalidation"]
    assert len(shortcut.copies) == 3 and len(shortcut.issued) == 4
    assert ("/articles?page=9", "") in shortcut.copies  # the newest are kept


def counted(call):
    with recorded_statements() as seen:
        result = call()
    return len(seen), result


def test_the_copies_know_the_configured_cookie_names():
    """Someone carrying the app's own session cookie, whatever it is called, is never answered
    from the anonymous copy."""
    from crm.site.caching import RevalidationShortcut

    shortcut = RevalidationShortcut(lambda environ, start: [b""], ("__Host-hero", "keep_me"))
    for cookie, signed_in in (("__Host-hero=abc", True), ("a=1; keep_me=x", True),
                              ("session=abc", False), ("theme=dark", False)):  # fmt: skip
        assert bool(shortcut.signed_in.search(cookie)) is signed_in, cookie
