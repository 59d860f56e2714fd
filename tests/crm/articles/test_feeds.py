"""The Atom feed and the sitemap parse as XML and list exactly the public pages."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

from crm.time import utcnow

ATOM = "{http://www.w3.org/2005/Atom}"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def test_atom_feed_is_valid_and_lists_published_articles_newest_first(client, publish):
    now = utcnow()
    publish(title="Older & wiser", summary="Fish <and> chips", published_at=now - timedelta(days=2),
            tags="knee pain")  # fmt: skip
    publish(title="Newest", published_at=now - timedelta(hours=1))
    publish(title="Draft", status="draft")
    publish(title="Tomorrow", published_at=now + timedelta(days=1))
    response = client.get("/articles/feed.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.data)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{required}") is not None
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == "http://localhost/articles/feed.xml"
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["Newest", "Older & wiser"]
    older = entries[1]
    assert older.find(f"{ATOM}id").text == "http://localhost/articles/older-wiser"
    assert older.find(f"{ATOM}summary").text == "Fish <and> chips"
    assert older.find(f"{ATOM}category").get("term") == "knee-pain"
    for entry in entries:  # RFC 3339 timestamps
        datetime.fromisoformat(entry.find(f"{ATOM}updated").text.replace("Z", "+00:00"))


def test_empty_feed_is_still_valid(client):
    root = ET.fromstring(client.get("/articles/feed.xml").data)
    assert root.findall(f"{ATOM}entry") == []
    assert root.find(f"{ATOM}updated").text


def test_sitemap_lists_landing_booking_list_and_public_articles_only(client, publish):
    publish(title="Run without walking")
    publish(title="Secret draft", status="draft")
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.data)
    assert root.tag == f"{SM}urlset"
    locs = [u.find(f"{SM}loc").text for u in root.findall(f"{SM}url")]
    assert locs == [
        "http://localhost/",
        "http://localhost/book",
        "http://localhost/articles",
        "http://localhost/articles/run-without-walking",
    ]
    lastmod = root.findall(f"{SM}url")[3].find(f"{SM}lastmod").text
    assert lastmod == utcnow().date().isoformat()
