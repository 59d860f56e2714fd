"""Browser tests: the app served on a loopback port, driven by Debian's Chromium via Playwright.

Screenshots of every page a test visits land in test-artifacts/ (phone and desktop widths).
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        message = "Debian's chromium is not installed (make test installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    # The suite runs three workers beside a Celery worker and PostgreSQL on two cores: give a
    # retrying assertion 15 s, not Playwright's 5 s (a click or a navigation waits up to 30 s).
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app_ctx):
    """The test app on a free loopback port, CSRF on as in production."""
    app = app_ctx
    app.config["WTF_CSRF_ENABLED"] = True
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        app.config["WTF_CSRF_ENABLED"] = False


class Shots:
    """Saves a screenshot per step, named after the test and the backend."""

    def __init__(self, request):
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        self.prefix = ARTIFACTS / name
        ARTIFACTS.mkdir(exist_ok=True)

    def __call__(self, page, step: str) -> None:
        page.screenshot(path=f"{self.prefix}--{step}.png", full_page=True)


@pytest.fixture
def shots(request) -> Shots:
    return Shots(request)


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    yield page
    context.close()
