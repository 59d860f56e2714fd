"""What every browser test does: log in through the real form, check nothing scrolls sideways."""

from __future__ import annotations

PASSWORD = "correct horse battery"  # the factories' default password


def login(page, base: str, email: str, password: str = PASSWORD) -> None:
    """Log in through the /login form (CSRF on) and wait to leave it."""
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def no_sideways_scroll(page) -> None:
    page.wait_for_load_state()  # not mid-navigation, when there is no document to measure
    assert not page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
