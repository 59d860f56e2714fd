from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm.booking.models import Booking, BookingStatus
from crm.dashboard import services
from crm.leads.models import Stage
from crm.time import utcnow


def _book(session, lead, start, status=BookingStatus.BOOKED):
    session.add(
        Booking(
            lead_id=lead.id,
            start_at=start,
            end_at=start + timedelta(minutes=20),
            slot_start=start,
            status=status,
            timezone="UTC",
        )  # fmt: skip
    )
    session.commit()


def test_funnel_counts_each_step_over_the_last_90_days(db_session, make_lead):
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    recent = now - timedelta(days=10)
    booked = make_lead(stage=Stage.CALL_BOOKED, created_at=recent)
    held = make_lead(stage=Stage.LOST, lost_reason="price", created_at=recent)
    make_lead(stage=Stage.ENROLLED, created_at=recent)  # enrolled without a booking
    make_lead(stage=Stage.NEW, created_at=recent)
    make_lead(stage=Stage.ENROLLED, created_at=now - timedelta(days=120))  # too old
    _book(db_session, booked, now + timedelta(days=1))
    _book(db_session, held, now - timedelta(days=5), BookingStatus.HELD)
    steps = services.funnel(db_session, now)
    assert [(s.label, s.count) for s in steps] == [
        ("Leads", 4), ("Calls booked", 3), ("Calls held", 2), ("Enrolled", 1),
    ]  # fmt: skip
    assert steps[1].conversion == 0.75 and steps[0].conversion is None


def test_calls_today_and_upcoming_in_the_coachs_time_zone(db_session, make_lead):
    tz = "America/Los_Angeles"
    # 06:00 UTC on June 2 is 23:00 on June 1 in Los Angeles: "today" for the coach.
    now = datetime(2025, 6, 1, 20, tzinfo=UTC)
    tonight = make_lead(name="Tonight")
    tomorrow = make_lead(name="Tomorrow")
    cancelled = make_lead(name="Cancelled")
    _book(db_session, tonight, datetime(2025, 6, 2, 6, tzinfo=UTC))
    _book(db_session, tomorrow, datetime(2025, 6, 2, 17, tzinfo=UTC))
    db_session.add(
        Booking(
            lead_id=cancelled.id,
            start_at=datetime(2025, 6, 3, 17, tzinfo=UTC),
            end_at=datetime(2025, 6, 3, 17, 20, tzinfo=UTC),
            slot_start=None,
            status=BookingStatus.CANCELLED,
            timezone="UTC",
        )  # fmt: skip
    )
    db_session.commit()
    today, upcoming = services.calls(db_session, tz, now)
    assert [b.lead_name for b in today] == ["Tonight"]
    assert [b.lead_name for b in upcoming] == ["Tomorrow"]


def test_a_day_with_more_calls_than_shown_lists_its_latest(db_session, make_lead):
    tz = "UTC"
    now = datetime(2025, 6, 2, 15, tzinfo=UTC)
    shown = services.CALLS_SHOWN
    for k in range(shown + 5):  # every 30 minutes from 00:00: more than her rules would allow
        lead = make_lead(name=f"Call {k:02d}", email=f"call{k}@example.com")
        _book(db_session, lead, datetime(2025, 6, 2, tzinfo=UTC) + timedelta(minutes=30 * k))
    today, _upcoming = services.calls(db_session, tz, now)
    assert [b.lead_name for b in today] == [f"Call {k:02d}" for k in range(5, shown + 5)]


def test_new_leads_this_week_start_on_monday(db_session, make_lead):
    now = datetime(2025, 6, 4, 12, tzinfo=UTC)  # a Wednesday
    make_lead(name="Monday", created_at=datetime(2025, 6, 2, 8, tzinfo=UTC))
    make_lead(name="Last Sunday", created_at=datetime(2025, 6, 1, 8, tzinfo=UTC))
    count, latest = services.new_leads_this_week(db_session, "UTC", now)
    assert count == 1 and [x.name for x in latest] == ["Monday"]


def test_dashboard_page_renders_the_funnel_svg_with_numbers(coach_client, make_lead, db_session):
    lead = make_lead(name="Soon Runner", created_at=utcnow() - timedelta(days=1))
    _book(db_session, lead, utcnow() + timedelta(days=2))
    response = coach_client.get("/coach")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<svg" in html and "Calls booked: 1" in html
    assert "Soon Runner" in html
    assert "<script>" not in html


def test_empty_dashboard_says_what_to_do(coach_client):
    html = coach_client.get("/coach").get_data(as_text=True)
    assert "No calls today" in html and "/book" in html
    assert "No new leads since Monday" in html
    assert "the funnel fills in" in html
    assert "<svg" not in html


def test_login_sends_the_coach_to_the_dashboard(client, coach):
    response = client.post(
        "/login", data={"email": "coach@example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/coach"


def test_clients_who_need_you_shows_each_flagged_client_once_with_the_newest_flag(
    db_session, make_user
):
    from crm.alerts.models import CoachFlag, FlagKind

    maria, june = make_user(first_name="Maria"), make_user(first_name="June")
    db_session.add_all(
        [
            CoachFlag(user_id=maria.id, kind=FlagKind.MISSED, key="m1", reason="Two missed"),
            CoachFlag(user_id=maria.id, kind=FlagKind.PAIN, key="p1", reason="Pain 7/10"),
            CoachFlag(
                user_id=june.id,
                kind=FlagKind.SILENT,
                key="s1",
                reason="Quiet",
                resolved_at=utcnow(),
            ),
        ]
    )
    db_session.commit()
    rows = services.clients_needing_attention(db_session)
    assert [(r.user.id, r.flag.reason, r.open_flags) for r in rows] == [(maria.id, "Pain 7/10", 2)]


def test_dashboard_shows_revenue_and_the_clients_who_need_you(
    client, auth, coach, make_user, db_session
):
    from crm.alerts.models import CoachFlag, FlagKind

    runner = make_user(first_name="Maria", last_name="Lopez")
    db_session.add(
        CoachFlag(user_id=runner.id, kind=FlagKind.PAIN, key="p", reason="Pain <b>7</b>/10")
    )
    db_session.commit()
    auth.login(coach)
    page = client.get("/coach").get_data(as_text=True)
    assert "Revenue" in page and "$0.00" in page
    assert "Maria Lopez" in page
    assert "Pain &lt;b&gt;7&lt;/b&gt;/10" in page


def test_the_dashboard_escapes_what_leads_and_clients_typed(coach_client, make_lead, make_user,
                                                             db_session):  # fmt: skip
    from crm.alerts.models import CoachFlag, FlagKind

    lead = make_lead(name='Dana <b>Runner</b> & "Co"')
    _book(db_session, lead, utcnow() + timedelta(minutes=5))  # today (or, near midnight, next)
    _book(db_session, lead, utcnow() + timedelta(days=2))  # upcoming
    runner = make_user(first_name="<i>Maria</i>", last_name="O'Hara")
    db_session.add_all(
        [
            CoachFlag(user_id=runner.id, kind=FlagKind.PAIN, key="p", reason="Pain <b>7</b>/10"),
            CoachFlag(user_id=runner.id, kind=FlagKind.SILENT, key="s", reason="<script>x"),
        ]
    )
    db_session.commit()
    html = coach_client.get("/coach").get_data(as_text=True)
    name = "Dana &lt;b&gt;Runner&lt;/b&gt; &amp; &#34;Co&#34;"
    assert html.count(name) == 3  # a call today, an upcoming one, a new lead
    assert "<b>Runner" not in html and "<b>7" not in html and "<i>Maria" not in html
    assert "&lt;i&gt;Maria&lt;/i&gt; O&#39;Hara" in html
    assert "&lt;script&gt;x" in html and "<script>x" not in html  # the newest flag
    assert "· 2 open flags" in html
    assert f'href="/coach/leads/{lead.id}"' in html
