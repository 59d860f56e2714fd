"""SMTP connections kept open between sends, per worker process.

Opening a session (TCP, greeting, EHLO, STARTTLS, AUTH) costs more than sending a small message,
so a worker keeps its idle connections, keyed by server and credentials, and reuses them. A
connection idle for longer than NOOP_AFTER_SECONDS is checked with NOOP first (servers drop idle
clients) and replaced when that fails. A connection that saw any error during a send is closed,
never reused, and the send is not repeated here: the outbox's retry with backoff decides, so an
ambiguous failure (the server may have accepted the data) is never silently sent twice.

Connections are checked out while in use, so threads never share one. The worker closes them
(QUIT) on shutdown through Celery's worker_process_shutdown / worker_shutdown signals; a forked
child drops its parent's sockets without using them.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)

NOOP_AFTER_SECONDS = 1.0
MAX_IDLE_PER_SERVER = 4


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str
    password: str
    starttls: bool
    timeout: float


class SmtpPool:
    def __init__(self) -> None:
        self._idle: dict[SmtpServer, list[tuple[smtplib.SMTP, float]]] = {}
        self._lock = threading.Lock()
        self.opened = 0  # connections opened over the pool's life (for tests and logs)

    @contextmanager
    def connection(self, server: SmtpServer) -> Iterator[smtplib.SMTP]:
        """A live, logged-in connection to `server`; returned to the pool when the block ends
        without an error, closed when it raises."""
        smtp = self._checkout(server)
        try:
            yield smtp
        except BaseException:
            _close(smtp)
            raise
        self._checkin(server, smtp)

    def _checkout(self, server: SmtpServer) -> smtplib.SMTP:
        while True:
            with self._lock:
                idle = self._idle.get(server)
                smtp, since = idle.pop() if idle else (None, 0.0)
            if smtp is None:
                return self._open(server)
            if time.monotonic() - since < NOOP_AFTER_SECONDS or _answers_noop(smtp):
                return smtp
            _close(smtp)  # dropped by the server while idle: try the next one, or a new one

    def _checkin(self, server: SmtpServer, smtp: smtplib.SMTP) -> None:
        with self._lock:
            idle = self._idle.setdefault(server, [])
            if len(idle) < MAX_IDLE_PER_SERVER:
                idle.append((smtp, time.monotonic()))
                return
        _close(smtp)

    def _open(self, server: SmtpServer) -> smtplib.SMTP:
        smtp_class = smtplib.SMTP_SSL if server.port == 465 else smtplib.SMTP
        smtp = smtp_class(server.host, server.port, timeout=server.timeout)
        try:
            if server.starttls and smtp_class is smtplib.SMTP:
                smtp.starttls(context=ssl.create_default_context())
            if server.username:
                smtp.login(server.username, server.password)
        except BaseException:
            _close(smtp)
            raise
        self.opened += 1
        return smtp

    def close_all(self) -> None:
        """QUIT every idle connection (worker shutdown)."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for smtp, _ in connections:
                _close(smtp)

    def forget(self) -> None:
        """Drop the connections without touching them: a forked child must not talk on its
        parent's sockets."""
        self._lock = threading.Lock()
        self._idle = {}


def _answers_noop(smtp: smtplib.SMTP) -> bool:
    try:
        return smtp.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


pool = SmtpPool()
os.register_at_fork(after_in_child=pool.forget)
