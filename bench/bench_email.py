"""Email fan-out: N clients' weekly check-ins rendered, queued and delivered through real Celery
workers to a local SMTP sink (aiosmtpd, in a process of its own), beside raw smtplib sending the
same messages to the same sink in the same run.

Run:
    .venv/bin/python bench/bench_email.py                       # 10,000 clients, PostgreSQL + Redis
    .venv/bin/python bench/bench_email.py --count 500           # a quick run
    .venv/bin/python bench/bench_email.py --db sqlite --broker embedded

What is timed (end to end): `queue_weekly_checkins` at Sunday 18:05 in the clients' zone —
select the active clients, render each email (Jinja + css-inline), insert the outbox rows,
commit in batches (each commit enqueues its send tasks) — until the sink has accepted all N
messages from the workers (each send: claim the row, build the MIME message, one SMTP session,
mark sent). Raw: the same N MIME messages, built beforehand, sent by one smtplib connection.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from amqp.exceptions import ChannelError

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ itself is first on sys.path, where bench/http.py would shadow the
# standard library's http package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

PG_SERVER = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# Its own queue per run: two runs sharing a broker must never take each other's send tasks.
QUEUE = f"hero-bench-email-{os.getpid()}"


def last_sunday_evening() -> datetime:
    """18:05 in Los Angeles on the latest Sunday before now: every client's check-in is due
    (in the past, so each is sent at once rather than left for the dispatcher)."""
    from zoneinfo import ZoneInfo

    la = ZoneInfo("America/Los_Angeles")
    today = datetime.now(la).date()
    sunday = today - timedelta(days=(today.weekday() + 1) % 7 or 7)
    return (
        datetime.combine(sunday, datetime.min.time(), la).replace(hour=18, minute=5).astimezone(UTC)
    )


class _CountingHandler:
    def __init__(self, count) -> None:
        self.count = count

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook
        with self.count.get_lock():
            self.count.value += 1
        return "250 OK"


def _serve_sink(port: int, count, ready, stop) -> None:
    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    controller = Controller(_CountingHandler(count), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class CountingSink:
    """An aiosmtpd server that only counts the messages it accepts, in a process of its own
    (as a real SMTP server is): inside the benchmark's process its event loop would compete
    for the GIL with the rendering, and the emails/s measured would be the harness's."""

    def __init__(self) -> None:
        import multiprocessing

        self._mp = multiprocessing.get_context("spawn")
        self._count = self._mp.Value("l", 0)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]

    @property
    def count(self) -> int:
        return self._count.value

    def start(self):
        ready, self._stop = self._mp.Event(), self._mp.Event()
        self._proc = self._mp.Process(
            target=_serve_sink, args=(self.port, self._count, ready, self._stop), daemon=True
        )
        self._proc.start()
        if not ready.wait(30):
            raise SystemExit("SMTP sink did not start")

    def stop(self):
        self._stop.set()
        self._proc.join(10)


def _scratch_database(kind: str, tmp: Path) -> tuple[str, callable]:
    import sqlalchemy as sa

    if kind == "sqlite":
        return f"sqlite:///{tmp / 'bench.sqlite'}", lambda: None
    name = f"hero_bench_{os.getpid()}"
    admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_SERVER.rsplit("/", 1)[0] + f"/{name}", drop


def _seed(app, count: int, start) -> None:
    """N runners in Los Angeles, each with an active plan (a real engine plan, cloned)."""
    from sqlalchemy import insert

    from crm.accounts.models import Role, User
    from extensions import db
    from programs.intake import submit_intake
    from programs.models import PlanRecord

    with app.app_context():
        db.create_all()
        first = User(email="seed@example.com", role=Role.RUNNER, first_name="Seed")
        db.session.add(first)
        db.session.commit()
        record = submit_intake(
            db.session,
            first.id,
            {
                "ability": "run_minutes", "run_minutes": 1, "days": [0, 2, 4, 5],
                "long_run_day": 5, "equipment": ["none", "band"], "pain_area": "knee",
                "pain_level": 2, "start_date": start, "race_date": None,
                "race_type": None, "age": 42, "timezone": "America/Los_Angeles",
            },
        )  # fmt: skip
        plan, base, calendar = record.plan, record.base_plan, record.calendar
        first.active = False  # the template for the others, not a client itself
        db.session.commit()
        names = ["Maya", "Rosa", "Ana", "Dana", "Kim", "Lena", "Joy", "Ines"]
        for start in range(0, count, 2000):
            n = min(2000, count - start)
            users = [
                {"email": f"runner{i}@example.com", "role": Role.RUNNER,
                 "first_name": names[i % len(names)], "timezone": "America/Los_Angeles",
                 "active": True}
                for i in range(start, start + n)
            ]  # fmt: skip
            ids = db.session.scalars(insert(User).returning(User.id), users).all()
            db.session.execute(
                insert(PlanRecord),
                [
                    {"user_id": uid, "engine_version": "bench", "base_plan": base, "plan": plan,
                     "calendar": calendar,
                     "coach_edits": [], "active": True}
                    for uid in ids
                ],
            )  # fmt: skip
            db.session.commit()


def _start_worker(env: dict, workers: int, log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("celery")), "-A", "tasks.worker", "worker",
            "--pool=prefork", f"--concurrency={workers}", "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--loglevel=WARNING", "-Q", QUEUE,
            "-n", f"bench-{os.getpid()}@%h",
        ],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    return proc


def _wait_ready(app, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    """Publish a no-op task and wait until the worker has taken it off the queue (works on every
    broker: the embedded one has no broadcast for `celery inspect ping`)."""
    celery = app.extensions["celery"]
    celery.send_task("celery.accumulate", queue=QUEUE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"worker exited:\n{log.read_text()[-3000:]}")
        with celery.connection_for_write() as conn:
            try:
                waiting = conn.default_channel.queue_declare(QUEUE, passive=True).message_count
            except ChannelError:  # Redis: an emptied queue no longer exists
                waiting = 0
            if waiting == 0:
                return
        time.sleep(0.2)
    raise SystemExit("worker not ready")


def run(count: int, db_kind: str, broker_kind: str, workers: int) -> dict:
    from app import create_app

    tmp = Path(tempfile.mkdtemp(prefix="hero-bench-email-"))
    db_url, drop_db = _scratch_database(db_kind, tmp)
    broker = REDIS_URL if broker_kind == "redis" else f"sqla+sqlite:///{tmp / 'broker.sqlite'}"
    sink = CountingSink()
    sink.start()
    settings = {
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SECRET_KEY": "bench-secret",
        "BASE_URL": "http://localhost",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": sink.port,
        "SMTP_STARTTLS": False,
        "SMTP_USERNAME": "",
        "OUTBOX_QUEUE": QUEUE,
        "RATELIMIT_STORAGE_URI": "memory://",
    }
    celery_cfg = {"broker_url": broker, "task_ignore_result": True,
                  "broker_connection_retry_on_startup": True}  # fmt: skip
    app = create_app({**settings, "CELERY": celery_cfg})
    celery = app.extensions["celery"]
    if broker_kind == "redis":
        with celery.connection_for_write() as conn:
            conn.default_channel.queue_purge(QUEUE)
    evening = last_sunday_evening()
    try:
        _seed(app, count, evening.date() - timedelta(days=13))
    except BaseException:
        _cleanup(app, sink, drop_db)
        raise
    env = {
        **os.environ,
        "DATABASE_URL": db_url, "CELERY_BROKER_URL": broker, "SECRET_KEY": "bench-secret",
        "BASE_URL": "http://localhost", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(sink.port),
        "SMTP_STARTTLS": "0", "OUTBOX_QUEUE": QUEUE, "HERO_INSTANCE_PATH": str(tmp),
        "RATELIMIT_STORAGE_URI": "memory://",
    }  # fmt: skip
    env.pop("SMTP_USERNAME", None)
    log = tmp / "worker.log"
    proc = _start_worker(env, workers, log)
    try:
        _wait_ready(app, proc, log)
        from extensions import db
        from programs.coaching.checkins import queue_weekly_checkins

        with app.app_context():
            t0 = time.perf_counter()
            queued = queue_weekly_checkins(db.session, now=evening)
            t_queued = time.perf_counter() - t0
            deadline = time.monotonic() + max(120, count / 10)
            while sink.count < queued and time.monotonic() < deadline:
                time.sleep(0.02)
            total = time.perf_counter() - t0
            delivered = sink.count
        raw = _raw_smtplib(app, sink, count)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if broker_kind == "redis":
            with celery.connection_for_write() as conn:
                conn.default_channel.queue_delete(QUEUE)
        _cleanup(app, sink, drop_db)
    return {
        "count": count, "db": db_kind, "broker": broker_kind, "workers": workers,
        "queued": queued, "delivered": delivered, "queue_s": t_queued, "total_s": total,
        "rate": delivered / total, "raw_rate": raw, "log": str(log),
    }  # fmt: skip


def _cleanup(app, sink: CountingSink, drop_db) -> None:
    from extensions import db

    sink.stop()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_db()


def _raw_smtplib(app, sink: CountingSink, count: int) -> float:
    """Emails/s of one smtplib connection sending the same (already built) messages."""
    import smtplib

    from sqlalchemy import select

    from extensions import db
    from tasks.models import OutboxEmail
    from tasks.sender import build_message

    with app.app_context():
        rows = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
        messages = [build_message(row) for row in rows][:count]
    before = sink.count
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
        for msg in messages:
            smtp.send_message(msg, from_addr="coach@example.com", to_addrs=[msg["To"]])
    elapsed = time.perf_counter() - t0
    assert sink.count - before == len(messages)
    return len(messages) / elapsed


def main() -> None:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--broker", choices=["redis", "embedded"], default="redis")
    parser.add_argument("--workers", type=int, default=2, help="prefork processes")
    args = parser.parse_args()
    r = run(args.count, args.db, args.broker, args.workers)
    print()
    print(
        "| clients | database | broker | worker processes | render+queue s | end-to-end s "
        "| delivered | emails/s (Celery) | emails/s (raw smtplib) | % of raw |"
    )
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {r['count']:,} | {r['db']} | {r['broker']} | {r['workers']} | {r['queue_s']:.1f} "
        f"| {r['total_s']:.1f} | {r['delivered']:,} | {r['rate']:.0f} | {r['raw_rate']:.0f} "
        f"| {100 * r['rate'] / r['raw_rate']:.0f} % |"
    )
    if r["delivered"] < r["count"]:
        print(f"worker log: {r['log']}")
        sys.exit(f"only {r['delivered']} of {r['count']} delivered")


if __name__ == "__main__":
    main()
