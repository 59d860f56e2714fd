"""The navigation bar: each feature adds its entries in its init_app().

The coach's links from MORE_FROM on sit in a "More" menu, so the bar fits on one line.
"""

from __future__ import annotations

from flask import Flask, current_app

MORE_FROM = 60


def add_nav(app: Flask, audience: str, endpoint: str, label: str, order: int = 50) -> None:
    """Add a link to the coach's or the runner's navigation bar (audience "coach" or "runner")."""
    entries = app.extensions.setdefault("hero_nav", {"coach": [], "runner": []})[audience]
    entries.append((order, endpoint, label))
    entries.sort()


def init_app(app: Flask) -> None:
    app.extensions.setdefault("hero_nav", {"coach": [], "runner": []})

    @app.context_processor
    def _nav():
        nav = app.extensions["hero_nav"]
        return {
            "coach_nav": lambda: _links(nav["coach"], lambda order: order < MORE_FROM),
            "coach_more_nav": lambda: _links(nav["coach"], lambda order: order >= MORE_FROM),
            "runner_nav": lambda: _links(nav["runner"], lambda order: True),
        }


def _links(entries, keep) -> list[tuple[str, str, str]]:
    """(endpoint, label, URL) of the kept entries; the URLs come from the templates' url_for,
    which builds an argument-less link once per process."""
    link = current_app.jinja_env.globals["url_for"]
    return [(endpoint, label, link(endpoint)) for order, endpoint, label in entries if keep(order)]
