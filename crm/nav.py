"""The navigation bar: each feature adds its entries in its init_app().

The coach's links from MORE_FROM on sit in a "More" menu, so the bar fits on one line.
"""

from __future__ import annotations

from flask import Flask, current_app, url_for

MORE_FROM = 60


def add_nav(app: Flask, audience: str, endpoint: str, label: str, order: int = 50) -> None:
    """Add a link to the coach's or the runner's navigation bar (audience "coach" or "runner")."""
    entries = app.extensions.setdefault("hero_nav", {"coach": [], "runner": []})[audience]
    entries.append((order, endpoint, label))
    entries.sort()


def init_app(app: Flask) -> None:
    app.extensions.setdefault("hero_nav", {"coach": [], "runner": []})
    app.add_template_global(nav_links)


def nav_links(audience: str, more: bool = False) -> list[tuple[str, str, str]]:
    """(endpoint, label, URL) of an audience's links: the coach's bar (`more=False`) or her
    "More" menu (`more=True`); the runner has no "More" menu. The bar is rendered once per
    process and page (templates/_nav_links.html, through `fragment`)."""
    entries = current_app.extensions["hero_nav"][audience]
    return [
        (endpoint, label, url_for(endpoint))
        for order, endpoint, label in entries
        if audience != "coach" or (order >= MORE_FROM) == more
    ]
