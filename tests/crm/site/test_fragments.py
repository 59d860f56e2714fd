"""The pieces every page shares (head links, navigation, scripts) are rendered once per process
and key, from the key alone, and read the same as if each page rendered them."""

from __future__ import annotations

import re

from flask import render_template_string
from jinja2 import ChoiceLoader, DictLoader

from crm.site import assets


def _nav(page: str) -> str:
    return page[page.index('<ul class="navbar-nav me-auto">') : page.index("</ul>\n      <ul")]


def test_each_audience_gets_its_links_with_the_page_marked(client, auth, coach, make_user):
    visitor = _nav(client.get("/articles").get_data(as_text=True))
    assert 'nav-link active" href="/articles"' in visitor
    assert "/coach" not in visitor

    auth.login(coach)
    leads = _nav(client.get("/coach/leads").get_data(as_text=True))
    assert re.search(r'class="nav-link active"\s+aria-current="page"\s+href="/coach/leads"', leads)
    assert leads.count('aria-current="page"') == 1
    dashboard = _nav(client.get("/coach").get_data(as_text=True))
    assert re.search(r'class="nav-link active"\s+aria-current="page"\s+href="/coach"', dashboard)
    assert 'href="/coach/leads">' in dashboard and "Leads" in dashboard
    assert "/portal" not in dashboard

    auth.logout()
    auth.login(make_user(role="runner", email="maya@example.com", first_name="Maya"))
    runner = _nav(client.get("/account").get_data(as_text=True))
    assert "/coach" not in runner and 'href="/portal"' in runner


def test_a_fragment_is_rendered_once_per_key_and_cannot_see_the_page(app_ctx, client, coach):
    with app_ctx.test_request_context("/"):
        first = assets.fragment("_nav_links.html", audience="visitor", here="site.landing")
        again = assets.fragment("_nav_links.html", audience="visitor", here="site.landing")
        other = assets.fragment("_nav_links.html", audience="visitor", here="articles.article_list")
    assert first is again  # reused, not rendered again
    assert "active" not in first and "active" in other

    # Only the key's values reach it: not the page's variables, the user or the request.
    loader = app_ctx.jinja_env.loader
    app_ctx.jinja_env.loader = ChoiceLoader(
        [DictLoader({"_probe.html": "[{{ key }}|{{ page_var }}|{{ current_user }}|{{ request }}]"}),
         loader]
    )  # fmt: skip
    try:
        with app_ctx.test_request_context("/"):
            text = render_template_string(
                "{{ fragment('_probe.html', key='k') }}", page_var="secret"
            )
    finally:
        app_ctx.jinja_env.loader = loader
    assert text == "[k|||]"
