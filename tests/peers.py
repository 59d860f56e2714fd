"""Real peers for integration tests: an aiosmtpd SMTP server and a real Celery worker.

- `smtp_server` (session): an aiosmtpd server on a free loopback port that records every message
  it accepts; `stop()`/`start()` take it down and bring it back on the same port, `delay` makes
  it slow to accept (a message is recorded only if the client is still there to get the 250).
- `celery_worker` (session, one per database backend): `celery -A tasks.worker worker
  --pool=solo` in a subprocess, pointed at the test app's database and broker (the embedded
  sqla+sqlite broker, or TEST_CELERY_BROKER_URL) and at `smtp_server`; `kill()` SIGKILLs it,
  `restart()` brings it back. `outbox_peers` (per test) gives both, reset, with a live worker.
  A `Worker` of one's own can consume another queue and run on a wall clock of its own (`clock`),
  for tasks that act at a time of day.
"""

from __future__ import annotations

import asyncio
import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from email import policy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config) -> None:
    # kombu's SQLAlchemy transport (the embedded broker) declares a `lazy="noload"` relationship,
    # deprecated in SQLAlchemy 2.1; it is kombu's code, not ours.
    config.addinivalue_line("filterwarnings", "ignore:The ``noload`` loader strategy is deprecated")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.05):
    """Poll until predicate() is truthy; return its value, or fail the test with a timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {predicate}")
        time.sleep(interval)


class SmtpSink:
    """An aiosmtpd handler and controller that records accepted messages."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.delay = 0.0
        self.sessions_started = 0
        self._lock = threading.Lock()
        self._controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("bounce"):
            return "550 5.1.1 no such mailbox"  # a permanent rejection
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self._lock:
            self.sessions_started += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        transport = getattr(server, "transport", None)
        if transport is None or transport.is_closing():
            return "421 client went away"  # never acknowledged, so never delivered
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.envelopes.clear()
            self.sessions_started = 0
        self.delay = 0.0
        if self._controller is None:
            self.start()

    def to(self, address: str) -> list[email.message.EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[email.message.EmailMessage]:
        wait_until(lambda: len(self.messages) >= count, timeout)
        return list(self.messages)


@pytest.fixture(scope="session")
def smtp_server():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


# The worker runs with short timeouts so retries and the sweeper fit in a test.
WORKER_SETTINGS = {
    "OUTBOX_RETRY_BASE_SECONDS": "0.4",
    "OUTBOX_STALE_SECONDS": "3",
    "OUTBOX_MAX_ATTEMPTS": "8",
    "SMTP_TIMEOUT": "10",
    # Its own queue: send tasks that other tests publish (to "celery") are never run by this
    # worker, so it cannot race their table cleanup.
    "OUTBOX_QUEUE": f"hero-test-outbox{os.environ.get('PYTEST_XDIST_WORKER', '')}",
}


# `celery` with the wall clock moved to the timestamp in argv[1], still ticking (time-machine;
# monotonic time is left alone, so the worker's timers and timeouts behave).
_CELERY_AT = """
import sys, time_machine
time_machine.travel(float(sys.argv.pop(1)), tick=True).start()
sys.argv[0] = "celery"
from celery.__main__ import main
sys.exit(main())
"""


def purge_queue(app, queue: str) -> None:
    """Drop whatever earlier tests (or runs, on a shared Redis) left on a queue."""
    with app.extensions["celery"].connection_for_write() as conn:
        try:
            conn.default_channel.queue_purge(queue)
        except conn.channel_errors:
            return  # RabbitMQ refuses to purge a queue nobody declared yet: nothing to drop


class Worker:
    """A real `celery worker --pool=solo` subprocess against the test app's database and broker.

    It consumes `queue` and sends its emails through it; with `clock`, its wall clock starts
    there and ticks on (the database, the broker and the SMTP server keep the real time)."""

    def __init__(
        self,
        app,
        smtp: SmtpSink,
        *,
        queue: str = WORKER_SETTINGS["OUTBOX_QUEUE"],
        clock: datetime | None = None,
    ) -> None:
        self.app = app
        self.smtp = smtp
        self.queue = queue
        self.clock = clock
        self.tmp = Path(app.config["HERO_TEST_TMP"])
        self.log_path = self.tmp / f"worker-{queue}.log"
        self.proc: subprocess.Popen | None = None
        self._runs = 0

    @property
    def settings(self) -> dict[str, str]:
        return {**WORKER_SETTINGS, "OUTBOX_QUEUE": self.queue}

    def env(self) -> dict[str, str]:
        cfg = self.app.config
        instance = self.tmp / "worker-instance"
        instance.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": cfg["SQLALCHEMY_DATABASE_URI"],
            "CELERY_BROKER_URL": cfg["CELERY"]["broker_url"],
            "SECRET_KEY": cfg["SECRET_KEY"],
            "BASE_URL": cfg["BASE_URL"],
            "BUSINESS_ADDRESS": cfg["BUSINESS_ADDRESS"],
            "MAIL_FROM": cfg["MAIL_FROM"],
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.smtp.port),
            "SMTP_STARTTLS": "0",
            "HERO_INSTANCE_PATH": str(instance),
            "RATELIMIT_STORAGE_URI": "memory://",
            **self.settings,
        }
        env.pop("SMTP_USERNAME", None)
        env.pop("SMTP_PASSWORD", None)
        return env

    def start(self) -> None:
        self._runs += 1
        log = self.log_path.open("a")
        log.write(f"\n===== worker start {self._runs} =====\n")
        log.flush()
        offset = self.log_path.stat().st_size
        if self.clock is None:
            celery = [str(Path(sys.executable).with_name("celery"))]
        else:
            celery = [sys.executable, "-c", _CELERY_AT, str(self.clock.timestamp())]
        self.proc = subprocess.Popen(
            [
                *celery,
                "-A",
                "tasks.worker",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                "-Q",
                self.queue,
                "-n",
                f"{self.queue}-{self._runs}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

        def ready():
            if self.proc.poll() is not None:
                pytest.fail(f"celery worker exited ({self.proc.returncode}):\n{self.tail()}")
            with self.log_path.open() as f:
                f.seek(offset)
                return " ready." in f.read()

        wait_until(ready, timeout=60)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no ack, no cleanup — as when a machine dies."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.stop()
        self.start()

    def tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text().splitlines()[-lines:])

    def run_task(self, name: str) -> None:
        """Publish a task (e.g. the beat's `tasks.sweep_stuck`) for this worker to run."""
        self.app.extensions["celery"].send_task(name, queue=self.queue)

    def drain(self, timeout: float = 20.0) -> None:
        """Wait until the worker has run everything published before now (FIFO, solo pool)."""
        if not self.alive():
            return
        result = self.app.extensions["celery"].send_task("celery.accumulate", queue=self.queue)
        wait_until(lambda: f"[{result.id}] succeeded" in self.log_path.read_text(), timeout)


@pytest.fixture(scope="session")
def celery_worker(app, smtp_server):
    purge_queue(app, WORKER_SETTINGS["OUTBOX_QUEUE"])
    worker = Worker(app, smtp_server)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def outbox_peers(celery_worker, smtp_server, app_ctx, monkeypatch):
    """A live worker and an empty, running SMTP server for one test; sends go to its queue."""
    if not celery_worker.alive():
        celery_worker.start()
    smtp_server.reset()
    monkeypatch.setitem(app_ctx.config, "OUTBOX_QUEUE", WORKER_SETTINGS["OUTBOX_QUEUE"])
    yield celery_worker, smtp_server
    celery_worker.drain()  # idle before the tables are emptied
    print(f"--- celery worker log (tail) ---\n{celery_worker.tail()}")  # shown when a test fails
    smtp_server.delay = 0.0
    if smtp_server._controller is None:
        smtp_server.start()
