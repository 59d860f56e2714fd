from flask import Blueprint, render_template

from crm.accounts.access import coach_required
from crm.dashboard import rows, services
from crm.dashboard.counts import timezone_counts_and_feed
from crm.time import utcnow
from extensions import db

bp = Blueprint("dashboard", __name__)


@bp.get("/coach")
@coach_required
def home():
    now = utcnow()
    # The funnel and revenue are kept by beat; the coach's zone and the busy feed's status are
    # read with them.
    tz_name, counts, feed = timezone_counts_and_feed(db.session, now)
    today, upcoming = services.calls(db.session, tz_name, now)
    new_count, new_leads = services.new_leads_this_week(db.session, tz_name, now)
    today_html, upcoming_html = rows.call_rows(today, upcoming, tz_name)
    return render_template(
        "dashboard/home.html",
        tz_name=tz_name,
        today=today_html,
        upcoming=upcoming_html,
        new_count=new_count,
        new_leads=rows.new_lead_rows(new_leads, tz_name),
        funnel=counts.funnel,
        counts_as_of=counts.as_of,
        funnel_days=services.FUNNEL_DAYS,
        attention=rows.attention_rows(services.clients_needing_attention(db.session)),
        revenue=counts.revenue,
        busy_feed=feed,
    )
