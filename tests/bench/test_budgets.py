"""Each page's budget, machine-independent: how many SQL statements it runs and how many bytes of
HTML it renders (uncompressed). Timing stays in `make bench`; these catch a page that starts to
query or render more before anyone measures it. A budget is the page's cost when it was set,
with a little room; raise one only with a reason in the commit."""

from __future__ import annotations

import pytest

from crm.articles.services import save_article
from crm.booking import availability as coach_availability
from crm.booking import services as booking_services
from crm.dashboard.counts import refresh_counts
from crm.leads import services as lead_services
from programs.intake import submit_intake
from tests.conftest import sign_in
from tests.querycount import recorded_statements
from tests.security.conftest import intake

# url key: (who, statements at most, bytes at most)
BUDGETS = {
    "landing": ("anonymous", 0, 5_000),  # the copy is kept per process (crm/site/services.py)
    "articles": ("anonymous", 3, 6_500),
    "article": ("anonymous", 3, 20_000),
    "feed": ("anonymous", 1, 3_000),
    # /book and the slots also read the coach's busy times (her calendar feed, issue 14); her
    # settings, windows, days off and whether she has a feed in one statement (issue 15). A
    # visitor's second look is answered from the per-process copy (0): the test below renders.
    "book": ("anonymous", 4, 31_000),
    "slots_api": ("anonymous", 2, 4_000),
    # The user; 50 rows with the page's count, the coach's zone and the sources riding along.
    "lead_list": ("coach", 2, 36_000),
    # The user; one statement reads the lead, the coach's zone, her calls and her timeline (as
    # JSON lists), which of her other lists have rows and the programmes on sale; her notes (this
    # lead has ten).
    "lead_detail": ("coach", 3, 24_000),
    # The user; the funnel and revenue from dashboard_counts with the coach's zone and the busy
    # feed's status (issue 14); today's and upcoming calls; new leads; flagged clients; the
    # articles' attribution (one statement each).
    "dashboard": ("coach", 6, 18_000),
    "runner_today": ("runner", 2, 16_000),  # the user; plan, time zone and logs in one
}


def cost(client, url: str) -> tuple[int, int]:
    with recorded_statements() as seen:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(seen), len(response.get_data())


@pytest.fixture
def world(app_ctx, db_session, make_user, make_lead):
    coach = make_user(role="coach", email="coach@example.com", first_name="Ali")
    runner = make_user(role="runner", first_name="Rosa")
    submit_intake(db_session, runner.id, intake())
    for i in range(3):
        save_article(db_session, author_id=coach.id, title=f"Hips before knees {i}",
                     body="Train the hips in every direction.\n\n[[cta]]\n" * 20,
                     tags="knees, strength", status="published")  # fmt: skip
    coach_availability.ensure_default_availability(db_session)
    slots = coach_availability.free_slots(db_session, days=14)
    for i, slot in enumerate(slots[:20]):
        booking_services.book_call(db_session, name=f"Runner {i}", email=f"r{i}@example.com",
                                   slot_start=slot.start, timezone="America/New_York")  # fmt: skip
    for i in range(40):
        make_lead(name=f"Lead {i}")
    lead = make_lead(name="Nora Notes")
    for i in range(10):
        lead_services.add_note(db_session, lead.id, f"note {i}")
    refresh_counts(db_session)  # as beat keeps them
    urls = {
        "landing": "/",
        "articles": "/articles",
        "article": "/articles/hips-before-knees-0",
        "feed": "/articles/feed.xml",
        "book": "/book?tz=America/New_York",
        "slots_api": "/api/v1/slots?days=7&tz=America/New_York",
        "lead_list": "/coach/leads",
        "lead_detail": f"/coach/leads/{lead.id}",
        "dashboard": "/coach",
        "runner_today": "/portal",
    }
    return {"coach": coach, "runner": runner, "urls": urls}


def test_every_page_keeps_its_statement_and_byte_budget(app_ctx, world):
    clients = {who: app_ctx.test_client() for who in ("anonymous", "coach", "runner")}
    for who in ("coach", "runner"):
        sign_in(clients[who], world[who])
    over = []
    for key, (who, max_statements, max_bytes) in BUDGETS.items():
        url = world["urls"][key]
        cost(clients[who], url)  # warm: per-process caches, the first visit's one-off work
        statements, size = cost(clients[who], url)
        if statements > max_statements or size > max_bytes:
            over.append(f"{key} ({url}): {statements} statements (budget {max_statements}), "
                        f"{size:,} bytes (budget {max_bytes:,})")  # fmt: skip
    assert not over, "over budget:\n" + "\n".join(over)


def test_the_public_slots_rendered_afresh_keep_their_statements(app_ctx, world):
    """Past the per-process copy (a hard reload): the slots API reads the coach's settings,
    windows, days off and whether she has a calendar feed in one statement, then the week's
    bookings; /book reads her settings for the visitor's zone first, then the rest."""
    anonymous = app_ctx.test_client()
    for key, most in (("slots_api", 2), ("book", 4)):
        url = world["urls"][key]
        with recorded_statements() as seen:
            assert anonymous.get(url, headers={"Cache-Control": "no-cache"}).status_code == 200
        assert len(seen) <= most, f"{url}: {len(seen)} statements (at most {most}): {seen}"


def test_an_anonymous_revalidation_costs_no_statement(app_ctx, world):
    anonymous = app_ctx.test_client()
    for key in ("landing", "articles", "article", "feed"):
        url = world["urls"][key]
        etag = anonymous.get(url).headers["ETag"]
        with recorded_statements() as seen:
            assert anonymous.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert not seen, f"{url}: {len(seen)} statements for a 304"


def test_the_lead_list_stays_in_budget_with_more_leads_than_a_page(app_ctx, world, make_lead):
    """The lead list renders 50 rows at most: more leads do not grow it past its budget."""
    coach = app_ctx.test_client()
    sign_in(coach, world["coach"])
    before = cost(coach, "/coach/leads")[1]
    for i in range(60):
        make_lead(name=f"More {i}")
    after = cost(coach, "/coach/leads")[1]
    assert after > before and after <= BUDGETS["lead_list"][2]
