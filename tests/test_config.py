"""Settings derived from the environment."""

from __future__ import annotations

from config import Config


def test_base_url_follows_port_when_unset(monkeypatch):
    monkeypatch.delenv("BASE_URL", raising=False)
    monkeypatch.setenv("PORT", "8000")
    assert Config().BASE_URL == "http://127.0.0.1:8000"


def test_base_url_defaults_to_port_5000(monkeypatch):
    monkeypatch.delenv("BASE_URL", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    assert Config().BASE_URL == "http://127.0.0.1:5000"


def test_an_explicit_base_url_wins_over_port(monkeypatch):
    monkeypatch.setenv("BASE_URL", "https://coach.example.com/")
    monkeypatch.setenv("PORT", "8000")
    config = Config()
    assert config.BASE_URL == "https://coach.example.com"
    assert config.SESSION_COOKIE_SECURE is True
