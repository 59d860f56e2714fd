"""Peers that can fail on demand: a TCP proxy in front of PostgreSQL, a private Redis server."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time

import pytest
from sqlalchemy.engine import make_url

from app import create_app
from extensions import db
from tests.conftest import make_test_config
from tests.peers import free_port, wait_until


class TcpProxy:
    """Forwards 127.0.0.1:port to a backend; stop() drops every connection and refuses new ones,
    start() listens again on the same port — a database that goes away and comes back."""

    def __init__(self, backend: tuple[str, int]) -> None:
        self.backend = backend
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._from_backend: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.backend, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            back = threading.Thread(target=self._pipe, args=(upstream, client), daemon=True)
            back.start()
            with self._lock:
                self._from_backend.append(back)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def wait_until_backends_closed(self, timeout: float = 5.0) -> None:
        """Wait until every connection the backend ended has been passed on as closed (the
        proxy's own threads forward it; without a proxy the kernel does so at once)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._from_backend):
            thread.join(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()


class RedisServer:
    """A private redis-server on a free port that a test may stop and start again."""

    def __init__(self, tmp_path) -> None:
        self.port = free_port()
        self.dir = tmp_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        wait_until(up, timeout=10)

    def wait_until_backends_closed(self, timeout: float = 5.0) -> None:
        """Wait until every connection the backend ended has been passed on as closed (the
        proxy's own threads forward it; without a proxy the kernel does so at once)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._from_backend):
            thread.join(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        time.sleep(0.05)


@pytest.fixture
def redis_server(tmp_path):
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is needed for the broker fault tests (apt-get install redis)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def proxied(app, app_ctx, tmp_path):
    """A second app, on the same database, reached through a proxy the test can cut."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("a PostgreSQL outage: runs on the PostgreSQL backend")
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    config = make_test_config(through, tmp_path)
    # Fail fast while the database is away instead of waiting for the OS's connect timeout.
    # The app's own connection checks (crm/connections.py), not SQLAlchemy's pre-ping.
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        # Named, so a test can terminate exactly these connections.
        "connect_args": {"connect_timeout": 2, "application_name": "hero-faults"},
    }
    other = create_app(config)
    yield other, proxy
    proxy.stop()
    with other.app_context():
        db.engine.dispose()
