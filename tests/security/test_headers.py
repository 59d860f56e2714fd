"""Security headers on every response, and cookie flags as configured by BASE_URL."""

from __future__ import annotations

import pytest

from app import create_app
from tests.conftest import make_test_config
from tests.security.conftest import methods_of, walkable_rules


def csp_directives(value: str) -> dict[str, list[str]]:
    directives = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def assert_secure_headers(response, where: str, *, https: bool = False) -> None:
    headers = response.headers
    csp = csp_directives(headers.get("Content-Security-Policy", ""))
    script_src = csp.get("script-src", csp.get("default-src"))
    assert script_src, f"no script-src or default-src: {where}"
    assert "'unsafe-inline'" not in script_src, where
    assert "'unsafe-eval'" not in script_src, where
    assert csp.get("object-src", csp.get("default-src")) == ["'none'"], where
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    assert headers.get("Referrer-Policy") in {
        "strict-origin-when-cross-origin",
        "same-origin",
        "no-referrer",
        "strict-origin",
    }, where
    framing = headers.get("X-Frame-Options") in {"DENY", "SAMEORIGIN"} or csp.get(
        "frame-ancestors"
    ) in (["'none'"], ["'self'"])
    assert framing, f"no frame protection: {where}"
    if https:
        hsts = headers.get("Strict-Transport-Security", "")
        assert "max-age=" in hsts and int(hsts.split("max-age=")[1].split(";")[0]) >= 15552000
    else:
        assert "Strict-Transport-Security" not in headers, where


def test_every_response_carries_the_security_headers(app_ctx, world, auth, client):
    """Every GET route (as the coach, so protected pages render), errors and static files too."""
    auth.login(world.coach)
    urls = [
        world.url_for_rule(rule) for rule in walkable_rules(app_ctx) if "GET" in methods_of(rule)
    ]
    urls += ["/static/js/hero.js", "/no-such-page", "/api/v1/no-such-thing", "/api/v1/openapi.json"]
    for url in urls:
        response = client.get(url)
        response.close()  # static files are streamed from an open file
        assert_secure_headers(response, url)
    # A POST that fails validation, and a refused request, carry them too.
    assert_secure_headers(client.post("/login", data={}), "POST /login")
    auth.logout()
    assert_secure_headers(client.get("/coach"), "anonymous /coach")


def test_session_cookie_is_httponly_and_lax_but_not_secure_over_http(client, make_user):
    user = make_user(role="coach", email="c@example.com")
    client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert not cookie.secure


@pytest.fixture
def https_app(monkeypatch, tmp_path):
    # Cookie flags are derived from BASE_URL in the environment, as in production.
    monkeypatch.setenv("BASE_URL", "https://hero.example.com")
    config = make_test_config(f"sqlite:///{tmp_path / 'https.sqlite'}", tmp_path)
    config["BASE_URL"] = "https://hero.example.com"
    app = create_app(config)
    from extensions import db
    from tests.factories import create_user

    with app.app_context():
        db.create_all()
        create_user(db.session, role="coach", email="coach@example.com")
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_over_https_every_response_has_hsts_and_cookies_are_secure(https_app):
    client = https_app.test_client()
    for url in ("/", "/login", "/book", "/no-such-page", "/api/v1/slots", "/healthz"):
        assert_secure_headers(client.get(url, base_url="https://hero.example.com"), url, https=True)
    response = client.post(
        "/login",
        data={"email": "coach@example.com", "password": "correct horse battery", "remember": "y"},
        base_url="https://hero.example.com",
    )
    assert response.status_code == 302
    set_cookies = response.headers.getlist("Set-Cookie")
    assert set_cookies
    for header in set_cookies:
        flags = {part.strip().split("=")[0].lower() for part in header.split(";")}
        assert {"secure", "httponly"} <= flags, header
        assert "samesite" in flags, header
