"""Static files: fingerprinted names from the one URL helper, cached for a year, immutable."""

from __future__ import annotations

import re

from flask import url_for


def test_every_static_url_is_fingerprinted_and_immutable(client):
    page = client.get("/login").get_data(as_text=True)
    urls = re.findall(r'(?:href|src)="(/(?:static|bootstrap/static)/[^"]+)"', page)
    assert len(urls) >= 3  # Bootstrap's CSS and JS, Hero's CSS and JS
    for url in urls:
        assert re.search(r"\.[0-9a-f]{12}\.[a-z]+$", url), url
        with client.get(url) as response:
            assert response.status_code == 200, url
            cc = response.cache_control
            assert cc.public and cc.immutable and cc.max_age == 31_536_000, url


def test_the_hash_follows_the_content_and_a_stale_hash_is_not_immutable(app_ctx, client):
    with app_ctx.test_request_context():
        url = url_for("static", filename="css/hero.css")
    stale = re.sub(r"\.[0-9a-f]{12}\.css$", ".000000000000.css", url)
    with client.get(stale) as response:
        assert response.status_code == 200 and not response.cache_control.immutable
        assert response.cache_control.max_age <= 300
    with client.get("/static/css/no-such.css") as missing:
        assert missing.status_code == 404


def test_html_is_compressed_for_browsers_that_ask(client):
    for encoding in ("br", "gzip"):
        response = client.get("/login", headers={"Accept-Encoding": encoding})
        assert response.headers["Content-Encoding"] == encoding
        assert "Accept-Encoding" in response.headers["Vary"]
    assert "Content-Encoding" not in client.get("/login").headers
