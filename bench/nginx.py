"""Debian's nginx in front of the bench's gunicorn, with deploy/hero-locations.conf — the very
locations production uses (static files, the public pages' proxy cache) — so the cached figure
is measured, not claimed. Plain HTTP on loopback (TLS is the same in both figures' absence)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from bench.settings import CORES, PORT, ROOT, WORK

NGINX_PORT = int(os.environ.get("BENCH_NGINX_PORT", "58081"))


def bootstrap_static() -> str:
    import flask_bootstrap

    return str(Path(flask_bootstrap.__file__).parent / "static" / "bootstrap5")


def config(home: Path) -> str:
    locations = (ROOT / "deploy" / "hero-locations.conf").read_text()
    locations = locations.replace("/srv/hero/static/", f"{ROOT / 'static'}/")
    locations = locations.replace("/srv/hero/bootstrap/", f"{bootstrap_static()}/")
    (home / "hero-locations.conf").write_text(locations)
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {home / 'tmp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}worker_processes {CORES};
pid {home / "nginx.pid"};
error_log {home / "error.log"} warn;
events {{
    worker_connections 4096;
}}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    keepalive_timeout 65;
    server_tokens off;
{temp}
    proxy_cache_path {home / "cache"} levels=1:2 keys_zone=hero:20m max_size=256m
                     inactive=1h use_temp_path=off;
    upstream hero_web {{
        server 127.0.0.1:{PORT};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{NGINX_PORT};
        include {home / "hero-locations.conf"};
    }}
}}
"""


class Nginx:
    """nginx (daemon off) for the duration of a `with` block."""

    def __init__(self) -> None:
        self.home = WORK / "nginx"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Nginx:
        shutil.rmtree(self.home, ignore_errors=True)
        (self.home / "tmp").mkdir(parents=True)
        conf = self.home / "nginx.conf"
        conf.write_text(config(self.home))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        subprocess.run([nginx, "-t", "-q", "-c", str(conf), "-p", str(self.home)], check=True)
        self.proc = subprocess.Popen(
            [nginx, "-c", str(conf), "-p", str(self.home), "-g", "daemon off;"],
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{NGINX_PORT}/healthz", timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"nginx did not come up; see {self.home / 'error.log'}")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
