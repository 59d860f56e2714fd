"""Public article pages: list by tag and page, the article with its metadata, drafts hidden."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html.parser import HTMLParser

from crm.time import utcnow


class _Meta(HTMLParser):
    def __init__(self):
        super().__init__()
        self.meta, self.links, self.ld, self._in_ld, self.scripts = {}, {}, [], False, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta":
            self.meta[a.get("property") or a.get("name")] = a.get("content")
        elif tag == "link":
            self.links[a.get("rel")] = a.get("href")
        elif tag == "script":
            self.scripts.append(a)
            self._in_ld = a.get("type") == "application/ld+json"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_ld = False

    def handle_data(self, data):
        if self._in_ld:
            self.ld.append(data)


def _parse(html: str) -> _Meta:
    parser = _Meta()
    parser.feed(html)
    return parser


def test_published_article_has_canonical_open_graph_and_json_ld(client, publish):
    publish(title="How bad is running for my knees?", summary="Not as bad as you think.",
            tags="knee pain, running")  # fmt: skip
    response = client.get("/articles/how-bad-is-running-for-my-knees")
    assert response.status_code == 200
    page = _parse(response.get_data(as_text=True))
    canonical = "http://localhost/articles/how-bad-is-running-for-my-knees"
    assert page.links["canonical"] == canonical
    assert page.meta["og:title"] == "How bad is running for my knees?"
    assert page.meta["og:url"] == canonical
    assert page.meta["og:type"] == "article"
    assert page.meta["description"] == "Not as bad as you think."
    data = json.loads("".join(page.ld))
    assert data["@type"] == "Article"
    assert data["headline"] == "How bad is running for my knees?"
    assert data["mainEntityOfPage"] == canonical
    # The only script tags are the JSON-LD data block and files: nothing inline executes.
    for attrs in page.scripts:
        assert attrs.get("src") or attrs.get("type") == "application/ld+json"


def test_json_ld_cannot_be_broken_out_of_by_a_title(client, publish):
    publish(title="</script><script>alert(1)</script>", slug="sneaky")
    html = client.get("/articles/sneaky").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    data = json.loads("".join(_parse(html).ld))
    assert data["headline"] == "</script><script>alert(1)</script>"


def test_cta_links_to_booking_with_the_article_as_campaign(client, publish):
    publish(title="Run without walking", body="Intro\n\n[[cta]]\n\nMore text")
    html = client.get("/articles/run-without-walking").get_data(as_text=True)
    links = re.findall(r'href="([^"]*utm_campaign[^"]*)"[^>]*>Book a FREE call', html)
    # One where she wrote [[cta]] and one at the end of the article.
    assert len(links) == 2
    assert all("utm_source=article" in u and "utm_campaign=run-without-walking" in u
               for u in links)  # fmt: skip


def test_embedded_exercise_shows_library_name_instructions_and_cue(client, publish):
    from programs.engine import load_library

    clamshell = load_library().by_id["clamshell"]
    publish(title="Clams", body="Try this:\n\n[[exercise:clamshell]]\n")
    html = client.get("/articles/clams").get_data(as_text=True)
    from markupsafe import escape

    for text in (clamshell.name, clamshell.instructions, clamshell.cue):
        assert str(escape(text)) in html


def test_drafts_and_scheduled_articles_are_not_public(client, publish, login, coach):
    publish(title="Draft one", status="draft")
    publish(title="Later one", published_at=utcnow() + timedelta(days=2))
    assert client.get("/articles/draft-one").status_code == 404
    assert client.get("/articles/later-one").status_code == 404
    listing = client.get("/articles").get_data(as_text=True)
    assert "Draft one" not in listing and "Later one" not in listing
    login(coach)
    response = client.get("/articles/draft-one")
    assert response.status_code == 200
    assert "Only you can see this" in response.get_data(as_text=True)


def test_list_filters_by_tag_and_paginates(client, publish):
    now = utcnow()
    for i in range(12):
        publish(title=f"Knee article {i}", tags="knee pain", published_at=now - timedelta(hours=i))
    publish(title="About shoes", tags="gear", published_at=now - timedelta(days=3))
    first = client.get("/articles").get_data(as_text=True)
    assert "Knee article 0" in first and "Knee article 9" in first
    assert "Knee article 10" not in first
    second = client.get("/articles?page=2").get_data(as_text=True)
    assert "Knee article 10" in second and "About shoes" in second
    tagged = client.get("/articles?tag=gear").get_data(as_text=True)
    assert "About shoes" in tagged and "Knee article" not in tagged
    assert client.get("/articles?page=999").status_code == 200  # clamps, never a 500


def test_unknown_article_is_404(client):
    assert client.get("/articles/nope").status_code == 404


def test_video_link_becomes_a_click_to_load_card_and_csp_allows_only_those_frames(client, publish):
    publish(title="Video", video_url="https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    response = client.get("/articles/video")
    html = response.get_data(as_text=True)
    assert 'data-embed="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"' in html
    assert "<iframe" not in html  # nothing loads from YouTube until the reader presses play
    csp = response.headers["Content-Security-Policy"]
    frame_src = next(p for p in csp.split("; ") if p.startswith("frame-src"))
    assert frame_src.split()[1:] == ["https://www.youtube-nocookie.com", "https://player.vimeo.com"]


def _boxes(html: str) -> int:
    return html.count("Ready to run strong again")


def test_an_article_ending_with_cta_ends_with_one_box(client, publish):
    publish(
        title="Hips before knees", body="Train the hips.\r\n\r\n[[cta]]\r\n\r\n[[cta]]  \r\n\r\n"
    )
    html = client.get("/articles/hips-before-knees").get_data(as_text=True)
    assert _boxes(html) == 1
    assert html.rindex("Ready to run strong again") > html.index("Train the hips.")


def test_an_article_without_cta_still_ends_with_the_box(client, publish):
    publish(title="No box written", body="Just the text.")
    assert _boxes(client.get("/articles/no-box-written").get_data(as_text=True)) == 1


def test_a_new_article_starts_without_a_closing_cta(client, login, coach):
    login(coach)
    html = client.get("/coach/articles/new").get_data(as_text=True)
    assert "[[cta]]\n</textarea>" not in html and "Write here." in html
