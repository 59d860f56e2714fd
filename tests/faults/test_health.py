"""/healthz answers a load balancer: 200 when the database and broker answer, 503 when not."""

from __future__ import annotations

import io
import json
import logging

from app import create_app
from crm.logging import build_handler
from tests.conftest import make_test_config
from tests.peers import free_port


def test_healthz_is_ok_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    app = create_app(make_test_config(dead, tmp_path))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {
        "ok": False,
        "error": "OperationalError",
        "ms": body["checks"]["database"]["ms"],
    }
    assert body["checks"]["broker"]["ok"] is True
    assert "127.0.0.1" not in response.get_data(as_text=True)  # no connection details leak


def test_healthz_is_503_when_the_broker_is_unreachable(tmp_path):
    config = make_test_config(f"sqlite:///{tmp_path / 'h.sqlite'}", tmp_path)
    config["CELERY"] = {**config["CELERY"], "broker_url": f"redis://127.0.0.1:{free_port()}/0"}
    app = create_app(config)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ms"] < 5000


def test_log_lines_are_json_and_carry_the_request_id(client):
    stream = io.StringIO()
    handler = build_handler("json", stream)
    handler.set_name("test-capture")
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        response = client.get("/healthz", headers={"X-Request-ID": "req-abc123"})
    finally:
        root.removeHandler(handler)
    assert response.headers["X-Request-ID"] == "req-abc123"
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [r for r in records if r["logger"] == "hero.access"]
    assert access, records
    assert access[-1]["request_id"] == "req-abc123"
    assert access[-1]["status"] == 200
    assert access[-1]["path"] == "/healthz"
    assert access[-1]["duration_ms"] >= 0
