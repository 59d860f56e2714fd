"""The Atom feed and the sitemap, built with ElementTree so every value is escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime

from flask import current_app, url_for

from crm.articles.models import Article
from crm.articles.render import plain_text

ATOM = "http://www.w3.org/2005/Atom"
SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"


def absolute(endpoint: str, **values) -> str:
    """The canonical URL of a page: BASE_URL (not the request's host) plus its path."""
    return current_app.config["BASE_URL"] + url_for(endpoint, **values)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def atom_feed(articles: Iterable[Article], updated: datetime) -> bytes:
    """An Atom 1.0 document of the given published articles (newest first)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")

    def sub(parent, tag, text=None, **attrs):
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    sub(feed, "title", "0 to 5K Hero — articles")
    sub(feed, "subtitle", "Running after injury: strength, knees and run/walk, from Coach Ali.")
    sub(feed, "id", absolute("articles.article_list"))
    sub(feed, "link", rel="self", href=absolute("articles.feed"))
    sub(feed, "link", rel="alternate", type="text/html", href=absolute("articles.article_list"))
    sub(feed, "updated", _stamp(updated))
    author = sub(feed, "author")
    sub(author, "name", "Coach Ali")
    for article in articles:
        url = absolute("articles.article", slug=article.slug)
        entry = sub(feed, "entry")
        sub(entry, "title", article.title)
        sub(entry, "id", url)
        sub(entry, "link", rel="alternate", type="text/html", href=url)
        sub(entry, "published", _stamp(article.published_at))
        sub(entry, "updated", _stamp(max(article.updated_at, article.published_at)))
        sub(entry, "summary", article.summary or plain_text(article.body))
        for tag in article.tags:
            sub(entry, "category", term=tag)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def sitemap(urls: Iterable[tuple[str, datetime | None]]) -> bytes:
    """A sitemaps.org urlset of (absolute URL, last modified or None)."""
    ET.register_namespace("", SITEMAP)
    root = ET.Element(f"{{{SITEMAP}}}urlset")
    for loc, lastmod in urls:
        url = ET.SubElement(root, f"{{{SITEMAP}}}url")
        ET.SubElement(url, f"{{{SITEMAP}}}loc").text = loc
        if lastmod is not None:
            ET.SubElement(url, f"{{{SITEMAP}}}lastmod").text = lastmod.date().isoformat()
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
