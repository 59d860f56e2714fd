"""Behind a load balancer the rate limits count per client: X-Forwarded-For is trusted exactly
TRUSTED_PROXIES hops deep (Werkzeug's ProxyFix), and not at all with the default 0."""

from __future__ import annotations

import pytest

from app import create_app
from extensions import db, limiter
from tests.conftest import make_test_config

BALANCER = "10.0.0.2"  # every request reaches the web process from the balancer's address
LOGIN = {"email": "nobody@example.com", "password": "wrong-password"}


@pytest.fixture
def app_behind(tmp_path, request):
    config = make_test_config(f"sqlite:///{tmp_path / 'proxy.sqlite'}", tmp_path)
    config["TRUSTED_PROXIES"] = request.param
    app = create_app(config)
    with app.app_context():
        db.create_all()
        db.session.remove()
    saved = limiter.enabled
    limiter.enabled = True
    limiter.reset()
    yield app
    limiter.reset()
    limiter.enabled = saved
    with app.app_context():
        db.engine.dispose()


def attempts_until_429(client, forwarded_for: str | None, times: int = 15) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    for n in range(1, times + 1):
        response = client.post(
            "/login", data=LOGIN, headers=headers, environ_base={"REMOTE_ADDR": BALANCER}
        )
        if response.status_code == 429:
            return n
    return 0


@pytest.mark.parametrize("app_behind", [1], indirect=True)
def test_behind_one_trusted_proxy_each_client_has_its_own_limit(app_behind):
    client = app_behind.test_client()
    # The login allows 10 attempts a minute: the 11th from the same client is refused…
    assert attempts_until_429(client, "203.0.113.7") == 11
    # …while another client behind the same balancer still has all of hers.
    assert attempts_until_429(client, "198.51.100.9") == 11
    # A client cannot reset her count by adding a forged address in front of her own: the
    # balancer appends the address it saw, and only that last hop is trusted.
    assert attempts_until_429(client, "1.2.3.4, 203.0.113.7", times=1) == 1


@pytest.mark.parametrize("app_behind", [0], indirect=True)
def test_with_no_trusted_proxy_x_forwarded_for_is_ignored(app_behind):
    client = app_behind.test_client()
    for n in range(10):
        response = client.post(
            "/login",
            data=LOGIN,
            headers={"X-Forwarded-For": f"192.0.2.{n}"},  # a new made-up address every time
            environ_base={"REMOTE_ADDR": BALANCER},
        )
        assert response.status_code != 429
    # The made-up addresses did not buy her more attempts.
    assert attempts_until_429(client, "192.0.2.200", times=1) == 1


def test_trusted_proxies_defaults_to_zero_and_is_set_for_production():
    from config import Config

    assert Config().TRUSTED_PROXIES == 0
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    assert "TRUSTED_PROXIES" in (root / "compose.yaml").read_text()
    assert "TRUSTED_PROXIES" in (root / "Procfile").read_text()
    assert "TRUSTED_PROXIES" in (root / "README.md").read_text()
