from __future__ import annotations

import pytest

from crm.site import services
from crm.site.models import SiteText
from tests.querycount import statements_for


@pytest.fixture(autouse=True)
def _fresh_cache():
    services.forget_landing_copy()
    yield
    services.forget_landing_copy()


def test_repeat_visits_to_the_landing_page_do_not_touch_the_database(client):
    assert statements_for(client, "/") == 1
    assert statements_for(client, "/") == 0


def test_the_coachs_edit_shows_on_the_landing_page_at_once(client, auth, coach):
    assert services.DEFAULT_LANDING["headline"] in client.get("/").get_data(as_text=True)
    auth.login(coach)
    form = {**services.DEFAULT_LANDING, "headline": "Fresh headline from the coach"}
    assert client.post("/coach/site", data=form).status_code == 302
    assert "Fresh headline from the coach" in client.get("/").get_data(as_text=True)


def test_cached_copy_expires_after_the_ttl(db_session, monkeypatch):
    assert (
        services.cached_landing_copy(db_session)["headline"]
        == (services.DEFAULT_LANDING["headline"])
    )
    db_session.add(SiteText(key="headline", value="Edited elsewhere"))
    db_session.commit()  # another process's save: this one's copy is stale until the TTL
    assert services.cached_landing_copy(db_session)["headline"] != "Edited elsewhere"
    later = services._clock() + services.LANDING_TTL + 1
    monkeypatch.setattr(services, "_clock", lambda: later)
    assert services.cached_landing_copy(db_session)["headline"] == "Edited elsewhere"
