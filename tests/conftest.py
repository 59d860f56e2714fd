"""Test fixtures: the app on real databases (SQLite and PostgreSQL), a client, factories.

Every test that uses `app` (directly or through `client`, `db_session`, the factories…) runs once
per backend. PostgreSQL comes from TEST_DATABASE_URL (default: the local server on 127.0.0.1);
when it cannot be reached the PostgreSQL half is skipped with its reason — except on CI
(CI=true), where an unreachable PostgreSQL is an error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import g, request_started

from app import create_app
from config import Config, embedded_broker_url
from crm.site import caching
from extensions import db, limiter

pytest_plugins = ["tests.peers", "tests.stripe_server", "tests.s3_server"]

PG_SERVER_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Each test run gets its own database on the server, so runs side by side never share tables.
PG_URL = PG_SERVER_URL.rsplit("/", 1)[0] + f"/hero_test_{os.getpid()}"
ON_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = [b for b in os.environ.get("TEST_BACKENDS", "sqlite,postgresql").split(",") if b]

_backend_report: dict[str, str] = {}


def _recreate_database(name: str) -> None:
    """Drop and create a scratch database next to TEST_DATABASE_URL's."""
    admin = sa.create_engine(
        PG_SERVER_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _drop_database(name: str) -> None:
    admin = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _postgres_unreachable() -> str | None:
    try:
        _recreate_database(PG_URL.rsplit("/", 1)[1])
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


# Under pytest-xdist ("gw0", "gw1", ...) each worker has its own Redis database for the broker,
# so one worker's Celery worker never takes another's tasks (bench/ uses 13 and 14).
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
REDIS_DBS = (15, 12, 11, 10, 9, 8, 7, 6)


def worker_broker(url: str | None) -> str | None:
    if not url or not XDIST_WORKER.startswith("gw") or not url.startswith("redis"):
        return url
    index = int(XDIST_WORKER[2:]) % len(REDIS_DBS)
    return url.rsplit("/", 1)[0] + f"/{REDIS_DBS[index]}"


class SuiteConfig(Config):
    """The app's own settings (config.Config) with the test peers and nothing outside: the given
    database, the embedded broker in `tmp_dir` unless TEST_CELERY_BROKER_URL names Redis or
    RabbitMQ, SMTP off, Stripe offline, CSRF off for the test client (tests/security turns it
    on)."""

    def __init__(self, database_url: str, tmp_dir) -> None:
        super().__init__()
        self.TESTING = True
        self.SECRET_KEY = "test-secret-key"
        self.SQLALCHEMY_DATABASE_URI = database_url
        self.WTF_CSRF_ENABLED = False
        self.SERVER_NAME = None
        self.BASE_URL = "http://localhost"
        self.RATELIMIT_STORAGE_URI = "memory://"
        broker = worker_broker(os.environ.get("TEST_CELERY_BROKER_URL")) or embedded_broker_url(
            tmp_dir
        )
        self.CELERY = {**self.CELERY, "broker_url": broker}
        self.STRIPE_SECRET_KEY = ""
        self.SMTP_HOST = ""
        # Each booking publishes its own task, to run at once: a test's booking never waits on
        # a window another test opened (tests/crm/booking/test_emails_later.py opens one).
        self.BOOKING_EMAILS_WINDOW = 0.0


def make_test_config(database_url: str, tmp_dir) -> dict:
    return SuiteConfig(database_url, tmp_dir).as_dict()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    name = request.param
    if name == "postgresql":
        reason = _postgres_unreachable()
        if reason:
            _backend_report["postgresql"] = f"SKIPPED ({reason})"
            if ON_CI:
                pytest.fail(f"PostgreSQL must be reachable on CI: {reason}")
            pytest.skip(f"PostgreSQL backend skipped: {reason}")
    _backend_report.setdefault(name, "ran")
    return name


@pytest.fixture(scope="session")
def app(backend, tmp_path_factory):
    tmp_dir = tmp_path_factory.mktemp(f"hero-{backend}")
    url = f"sqlite:///{tmp_dir / 'hero.sqlite'}" if backend == "sqlite" else PG_URL
    app = create_app(make_test_config(url, tmp_dir))
    app.config["HERO_TEST_TMP"] = tmp_dir
    # Tests keep one app context open and the test client reuses it, so what a request keeps in
    # `g` (Flask-Login's current user, the coach's settings, the CSRF token) would leak into the
    # next: each request starts with an empty `g`, as it does when served.
    request_started.connect(_fresh_g, app)
    with app.app_context():
        _reset_schema()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if backend == "postgresql":
        _drop_database(PG_URL.rsplit("/", 1)[1])


def _fresh_g(sender, **extra) -> None:
    vars(g).clear()


def _reset_schema() -> None:
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    else:
        db.drop_all()
    db.create_all()


def _empty_tables() -> None:
    # DELETE, not TRUNCATE: on a few rows per table it is ~100x faster on PostgreSQL.
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(autouse=False)
def app_ctx(app) -> Iterator:
    # Tests that build an app of their own (headers, faults, migrations) make its Celery app the
    # current one; shared tasks would then run in that app's context. Each test starts with ours.
    app.extensions["celery"].set_current()
    app.extensions["celery"].set_default()
    with app.app_context():
        yield app
        db.session.remove()
        _empty_tables()
    limiter.reset()
    caching.forget()  # what this process kept of the pages and versions of the emptied tables


@pytest.fixture
def db_session(app_ctx):
    return db.session


@pytest.fixture
def client(app_ctx):
    return app_ctx.test_client()


@pytest.fixture
def booking_worker(db_session) -> Callable[[], int]:
    """What the Celery worker does once a booking commits, run here: queue the emails of every
    booking still without them (crm.booking.queue_emails, as its run finds them). The
    worker's own path, with a real Celery worker and SMTP server, is covered in
    tests/crm/booking/test_emails_later.py and tests/faults/test_broker_down.py."""
    from crm.booking.services import queue_pending_booking_emails

    return lambda: queue_pending_booking_emails(db_session, grace=timedelta(0))


@pytest.fixture
def cli_runner(app_ctx):
    return app_ctx.test_cli_runner()


class AuthActions:
    """Log a user in or out of the test client without going through the login form."""

    def __init__(self, client):
        self._client = client

    def login(self, user) -> None:
        sign_in(self._client, user)

    def logout(self) -> None:
        with self._client.session_transaction() as session:
            session.clear()


def sign_in(client, user, *, remember: bool = False) -> str:
    """Sign `user` in on `client` as the login form does (a server-side sign-in, see
    crm.accounts.sessions); returns the login id the cookies carry."""
    from crm.accounts.sessions import open_login_session

    # By identity: the walks hold users across requests that may have ended their session.
    login_id = open_login_session(db.session, sa.inspect(user).identity[0], remember=remember)
    with client.session_transaction() as session:
        session["_user_id"] = login_id
        session["_fresh"] = True
    return login_id


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def make_user(db_session):
    from tests.factories import create_user

    return lambda **kw: create_user(db_session, **kw)


@pytest.fixture
def coach(make_user):
    return make_user(role="coach", email="coach@example.com", first_name="Ali")


@pytest.fixture
def make_client(db_session, make_user):
    """A runner who has done her intake (an active plan), in `timezone`, starting on `start`."""
    from programs.intake import submit_intake
    from tests.factories import intake_values

    def make(start, *, email: str | None = None, first_name: str = "Maya", **overrides):
        user = make_user(
            role="runner", first_name=first_name, **({"email": email} if email else {})
        )
        submit_intake(db_session, user.id, intake_values(start, **overrides))
        return user

    return make


@pytest.fixture
def make_lead(db_session):
    from tests.factories import create_lead

    return lambda **kw: create_lead(db_session, **kw)


def pytest_sessionfinish(session) -> None:
    # Under pytest-xdist each worker reports which backends it ran to the controller.
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["hero_backends"] = dict(_backend_report)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    for name, state in getattr(node, "workeroutput", {}).get("hero_backends", {}).items():
        if _backend_report.get(name) != "ran":
            _backend_report[name] = state


def pytest_terminal_summary(terminalreporter) -> None:
    terminalreporter.section("database backends")
    for name in BACKENDS:
        terminalreporter.write_line(f"{name}: {_backend_report.get(name, 'not used')}")
