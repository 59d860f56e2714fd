"""Google's Lighthouse on the public pages: accessibility, best practices and SEO at least 95.

The CLI is installed by `make lighthouse` (npm, into .tools/) and drives Debian's Chromium. The
JSON reports land in test-artifacts/lighthouse/ for a look at what was measured.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from crm.articles.cli import seed_demo_articles
from crm.booking.availability import ensure_default_availability
from extensions import db

ROOT = Path(__file__).resolve().parents[2]
LIGHTHOUSE = ROOT / ".tools" / "node_modules" / ".bin" / "lighthouse"
REPORTS = ROOT / "test-artifacts" / "lighthouse"  # gitignored
# A phone (Lighthouse's default) on every run; LIGHTHOUSE_PRESETS=mobile,desktop adds the desktop
# preset (another ~70 s: each run starts its own Chromium, and two at a time were no faster).
PRESETS = tuple(os.environ.get("LIGHTHOUSE_PRESETS", "mobile").split(","))
CATEGORIES = ("accessibility", "best-practices", "seo")
MINIMUM = 0.95
PAGES = {
    "home": "/",
    "articles": "/articles",
    "article": "/articles/how-bad-is-running-for-my-knees",
    "book": "/book",
}


@pytest.fixture(scope="module")
def lighthouse() -> Path:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    missing = [
        message
        for ok, message in (
            (
                LIGHTHOUSE.exists(),
                "the Lighthouse CLI is not installed (make lighthouse installs it)",
            ),
            (Path(chromium).exists(), "Debian's chromium is not installed (make test installs it)"),
        )
        if not ok
    ]
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("; ".join(missing))
        pytest.skip("; ".join(missing))
    REPORTS.mkdir(parents=True, exist_ok=True)
    return LIGHTHOUSE


def run_lighthouse(binary: Path, url: str, preset: str, report: Path) -> dict:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    command = [
        str(binary),
        url,
        "--only-categories=" + ",".join(CATEGORIES),
        "--output=json",
        f"--output-path={report}",
        "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        "--quiet",
        "--max-wait-for-load=20000",
        # Only the three categories above are scored: no load timings, no screenshots needed.
        "--throttling-method=provided",
        "--disable-full-page-screenshot",
    ]
    if preset == "desktop":
        command.append("--preset=desktop")
    env = {**os.environ, "CHROME_PATH": chromium}
    subprocess.run(command, check=True, env=env, timeout=120, capture_output=True)
    return json.loads(report.read_text())


def failing_audits(result: dict, category: str) -> list[str]:
    audits = result["audits"]
    lines = []
    for ref in result["categories"][category]["auditRefs"]:
        audit = audits[ref["id"]]
        if ref["weight"] and audit.get("score") is not None and audit["score"] < 1:
            lines.append(f"{audit['id']}: {audit['title']}")
    return lines


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("page", PAGES)
def test_public_pages_score_at_least_95(live_server, lighthouse, backend, coach, preset, page):
    if backend != "sqlite":
        # Lighthouse scores the markup, which is the same on both databases (the route walk
        # and the browser journeys cover PostgreSQL): one run, not two, of ~20 s a page.
        pytest.skip("Lighthouse runs on the SQLite backend only: the pages are the same")
    ensure_default_availability(db.session)
    seed_demo_articles(db.session)
    path = PAGES[page]
    result = run_lighthouse(
        lighthouse, live_server + path, preset, REPORTS / f"{page}-{preset}.json"
    )
    problems = []
    for category in CATEGORIES:
        score = result["categories"][category]["score"]
        if score is None or score < MINIMUM:
            audits = "; ".join(failing_audits(result, category)) or "no weighted audit failed"
            problems.append(f"{path} ({preset}) {category} {score}: {audits}")
    assert not problems, "\n".join(problems)
