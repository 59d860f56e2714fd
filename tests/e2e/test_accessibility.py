"""axe-core as an outside judge: every HTML page in the URL map — public, coach and runner — at
375 px and at desktop width, with no serious or critical violation and no console error (the
favicon and touch icons included). Screenshots of every page land in test-artifacts/."""

from __future__ import annotations

import re
from datetime import date

import pytest
from axe_playwright_python.sync_playwright import Axe

from crm.accounts.models import Role
from crm.articles.services import save_article
from crm.billing import checkout
from programs.community.posts import create_post
from programs.engine.library import load_library
from programs.intake import submit_intake
from tests.e2e.conftest import ARTIFACTS, DESKTOP, PHONE
from tests.e2e.helpers import PASSWORD, login
from tests.factories import _password_hash
from tests.security.conftest import intake, walkable_rules, world  # noqa: F401 (a fixture)

# Pages that are not HTML for a person: feeds, files, exports, JSON.
NOT_PAGES = re.compile(r"(\.ics|\.csv|\.xml|\.json|/html)$|^/api/|/photos/|/covers/|^/healthz")
BLOCKING = {"serious", "critical"}
AXE = Axe()


def _required_role(view):
    seen = set()
    while view is not None and id(view) not in seen:
        seen.add(id(view))
        role = getattr(view, "required_role", None)
        if role is not None:
            return role
        view = getattr(view, "__wrapped__", None)
    return None


def _who(app, rule) -> str:
    role = _required_role(app.view_functions[rule.endpoint])
    if role == Role.COACH:
        return "coach"
    if role == Role.RUNNER or rule.rule.startswith("/community"):
        return "runner"
    return "visitor"


@pytest.fixture
def pages(app, world, db_session, coach):  # noqa: F811 (world is the imported fixture)
    """(who, url) for every GET page, with a real object behind every parameter."""
    # The runner pays for her offer in the offline checkout: an enrolment, a member, a plan.
    sid = checkout.start_checkout(db_session, world.offer_token, world.price_id).rsplit("/", 1)[1]
    checkout.complete_offline_checkout(db_session, sid)
    enrolment = checkout.fulfil_checkout(db_session, sid)
    submit_intake(db_session, enrolment.user_id, intake())
    article = save_article(
        db_session,
        title="Why your knees hurt: train the hips",
        body="Squats and lunges alone don't fix knee pain.\n\n[[cta]]\n\nTrain every direction.",
        status="published",
        author_id=coach.id,
    )
    post = create_post(db_session, coach.id, "Welcome, everyone! Share your first run here.")
    params = {
        **world.params,
        "user_id": enrolment.user_id,
        "enrolment_id": enrolment.id,
        "article_id": article.id,
        "post_id": post.id,
        "template": "welcome",
        "day": date.today().isoformat(),
        "session_id": sid,
    }
    slugs = {"articles.": article.slug, "exercises.": load_library().exercises[0].id}
    out = []
    for rule in walkable_rules(app):
        if "GET" not in rule.methods or NOT_PAGES.search(rule.rule):
            continue
        values = {}
        for name in rule.arguments:
            if name == "slug":
                values[name] = next(v for k, v in slugs.items() if rule.endpoint.startswith(k))
            elif name == "token":
                values[name] = world._token_for(rule.endpoint)
            else:
                values[name] = params.get(name, 1)
        out.append((_who(app, rule), rule.build(values, append_unknown=False)[1]))
    runner = db_session.get(type(coach), enrolment.user_id)
    runner.password_hash = _password_hash(PASSWORD)
    db_session.commit()
    return {"pages": out, "runner_email": runner.email}


def _message(m) -> str:
    return m if isinstance(m, str) else f"{m.text} ({m.location.get('url', '')})"


def _about_document(m, page) -> bool:
    return not isinstance(m, str) and m.location.get("url") == page.url


def _serious(results) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:4])
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_every_page_passes_axe_and_logs_no_console_error(live_server, browser, pages, coach, width):
    ARTIFACTS.mkdir(exist_ok=True)
    viewport = PHONE if width == "phone" else DESKTOP
    contexts, seen = {}, {}
    problems: dict[str, list[str]] = {}
    for who, email in (
        ("visitor", None),
        ("coach", coach.email),
        ("runner", pages["runner_email"]),
    ):
        context = browser.new_context(viewport=viewport, is_mobile=width == "phone")
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, e=errors: e.append(m) if m.type == "error" else None)
        page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
        if email:
            login(page, live_server, email)
        contexts[who], seen[who] = context, (page, errors)
    checked = 0
    try:
        for who, path in pages["pages"]:
            page, errors = seen[who]
            errors.clear()
            response = page.goto(live_server + path)
            if response is None or "text/html" not in response.headers.get("content-type", ""):
                continue
            page.wait_for_load_state("load")
            name = re.sub(r"[^\w.-]+", "_", path.strip("/") or "landing")[:80]
            page.screenshot(path=str(ARTIFACTS / f"axe-{width}-{who}-{name}.png"), full_page=True)
            found = _serious(AXE.run(page))
            # The document's own status (a 404 for an expired link) is the page, not an error in it.
            found += [f"console: {_message(m)}" for m in errors if not _about_document(m, page)]
            if found:
                problems[f"{who} {path}"] = found
            checked += 1
    finally:
        for context in contexts.values():
            context.close()
    assert checked >= 40, checked  # the walk really visited the pages
    assert problems == {}, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in problems.items())
