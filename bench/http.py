"""`make bench`: seed PostgreSQL, serve Hero with gunicorn, load it with wrk, write BENCHMARKS.md.

Run as a module from the repository root (`.venv/bin/python -m bench.http`; never as a script,
or this file would shadow the standard library's `http`). Steps:

1. Recreate the database BENCH_DB on the local PostgreSQL and fill it with `flask seed-bench`
   (BENCH_SCALE=1: 100,000 leads, 10,000 clients, 1,000,000 workout logs).
2. Serve the bare "hello" app (bench/hello.py) and then Hero with the same gunicorn command
   (BENCH_WORKERS sync workers, default 2 x cores) on loopback, and load each URL with wrk
   (BENCH_THREADS threads, BENCH_CONNECTIONS connections, BENCH_RUNS runs of BENCH_DURATION
   seconds, each after a one-second warm-up; the best run is the URL's figure, every run is
   reported). The baseline runs before and after Hero; its mean is the reference.
   The public pages are loaded fresh (a full render), revalidated (If-None-Match: a 304) and
   through Debian's nginx with deploy/hero-locations.conf (bench/nginx.py: the proxy cache).
3. Profile the pages in-process (SQL statements, and a CPU profile by function), run
   bench/bench_plans.py and bench/bench_email.py when they exist, EXPLAIN the lead search, and
   write BENCHMARKS.md with every figure of this run.
"""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

from bench.nginx import NGINX_PORT, Nginx
from bench.report import write_report
from bench.settings import (
    BENCH_DB,
    BROKER,
    CONNECTIONS,
    CORES,
    DURATION,
    EMAIL_COUNT,
    OUT,
    PG_SERVER,
    PORT,
    ROOT,
    RUNS,
    SCALE,
    SECRET_KEY,
    THREADS,
    VENV_BIN,
    WEBHOOK_SECRET,
    WORK,
    WORKERS,
)


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", flush=True)


# --- the database --------------------------------------------------------------------------------


def database_url() -> str:
    return f"{PG_SERVER}/{BENCH_DB}"


def app_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": BROKER,
        "SECRET_KEY": SECRET_KEY,
        "BASE_URL": f"http://127.0.0.1:{PORT}",
        "HERO_INSTANCE_PATH": str(WORK / "instance"),
        # Rate limits are per client address and every wrk request comes from 127.0.0.1: with
        # them on, the booking figure would measure 429s. They are tested in tests/security/.
        "RATELIMIT_ENABLED": "0",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "LOG_FORMAT": "json",
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


def psql(sql: str, db: str = "postgres") -> str:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/{db}", autocommit=True) as conn:
        cur = conn.execute(sql)
        return "\n".join(str(r[0]) for r in cur.fetchall()) if cur.description else ""


def seed() -> dict:
    leads, clients, logs = (int(n * SCALE) for n in (100_000, 10_000, 1_000_000))
    psql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{BENCH_DB}"')
    cmd = [
        str(VENV_BIN / "flask"), "--app", "app", "seed-bench", "--create-tables",
        "--leads", str(leads), "--clients", str(clients), "--logs", str(logs), "--seed", "1",
    ]  # fmt: skip
    log(" ".join(cmd[1:]))
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=app_env(), check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    subprocess.run(  # the coach's demo articles, for the article pages
        [str(VENV_BIN / "flask"), "--app", "app", "seed-articles"],
        cwd=ROOT, env=app_env(), check=True, capture_output=True, text=True,
    )  # fmt: skip
    summary = [line for line in out.stdout.splitlines() if line.startswith("Seeded")]
    log(summary[0] if summary else out.stdout[-500:])
    rows = int(re.search(r"Seeded ([\d,]+) rows", out.stdout)[1].replace(",", ""))
    size = psql(f"SELECT pg_size_pretty(pg_database_size('{BENCH_DB}'))")
    return {
        "leads": leads,
        "clients": clients,
        "logs": logs,
        "rows": rows,
        "seconds": elapsed,
        "size": size,
        "command": "flask --app app seed-bench " + " ".join(cmd[5:]),
    }


def open_the_calendar() -> None:
    """Every day 00:00–23:50 bookable, 10-minute calls, no notice, 62 days ahead: ~8,900 free
    slots, a third of them for each run, more than a run books, so every booking POST takes a
    fresh one (a body used twice would be a 409)."""
    psql(
        "DELETE FROM availability_windows; DELETE FROM days_off;"
        " UPDATE coach_settings SET call_minutes = 10, buffer_minutes = 0,"
        " min_notice_hours = 0, horizon_days = 62;"
        " INSERT INTO availability_windows (weekday, start_time, end_time)"
        " SELECT d, '00:00', '23:50' FROM generate_series(0, 6) AS d;",
        BENCH_DB,
    )


# --- serving -------------------------------------------------------------------------------------


class Server:
    def __init__(self, target: str, name: str) -> None:
        self.target, self.name = target, name
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        logfile = (WORK / f"gunicorn-{self.name}.log").open("w")
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "--workers",
                str(WORKERS),
                "--bind",
                f"127.0.0.1:{PORT}",
                "--backlog",
                "2048",
                "--timeout",
                "60",
                self.target,
            ],  # fmt: skip
            cwd=ROOT,
            env=app_env(),
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        path = "/healthz" if self.name == "hero" else "/"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"gunicorn ({self.name}) did not come up; see {logfile.name}")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


# --- load ----------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    path: str
    method: str = "GET"
    cookie: str = ""
    script: str = ""  # Lua that defines request()/setup() for POSTs with varying bodies
    # One script per run for POSTs whose bodies are single-use (disjoint bodies each run).
    scripts: list[str] = field(default_factory=list)
    limit: str = ""
    headers: dict = field(default_factory=dict)
    port: int = PORT  # NGINX_PORT for the figures through the proxy cache
    result: dict = field(default_factory=dict)


def best_of(target: Target, runs: int = RUNS, duration: int = DURATION) -> dict:
    """`runs` wrk runs of the target; the one with the most requests a second, with every run's
    requests a second in `runs` (in the order they ran)."""
    results = [
        wrk(target, duration, script=target.scripts[i] if target.scripts else None)
        for i in range(runs)
    ]
    best = max(results, key=lambda r: r["rps"])
    return {**best, "runs": [r["rps"] for r in results]}


def wrk(target: Target, duration: int = DURATION, *, script: str | None = None) -> dict:
    lua = target.script if script is None else script
    scripted = bool(lua)
    script = WORK / f"wrk-{re.sub(r'[^a-z0-9]+', '-', target.name.lower())}.lua"
    script.write_text(lua + "\n" + (ROOT / "bench" / "report.lua").read_text())
    headers = ["-H", f"Cookie: {target.cookie}"] if target.cookie else []
    for name, value in target.headers.items():
        headers += ["-H", f"{name}: {value}"]
    url = f"http://127.0.0.1:{target.port}{target.path}"
    base = ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-s", str(script), *headers]
    if not scripted:  # a scripted POST's bodies are single-use: no warm-up for those
        subprocess.run([*base, "-d", "1s", url], capture_output=True, check=True)
    cpu_before = cpu_seconds()
    run = subprocess.run(
        [*base, "-d", f"{duration}s", "--timeout", "10s", url],
        capture_output=True,
        text=True,
        check=True,
    )
    cpu_after = cpu_seconds()
    out = run.stdout
    if "WRK_JSON" not in out:  # wrk runs plain GETs when the script does not load
        raise RuntimeError(f"wrk failed for {target.name}: {run.stderr[-2000:]}")
    data = json.loads(out.split("WRK_JSON", 1)[1].strip().splitlines()[0])
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    requests = max(1, data["requests"])
    data["cpu_ms"] = {
        who: (cpu_after[who] - cpu_before.get(who, 0.0)) / requests * 1000 for who in cpu_after
    }
    return data


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by the server (gunicorn and nginx), PostgreSQL and wrk: where a
    page's time goes under load, measured, on the same two cores."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"server": 0.0, "postgres": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        used = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if comm.startswith("postgres"):
            totals["postgres"] += used
        elif b"gunicorn" in cmdline or comm.startswith("nginx"):
            totals["server"] += used
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    totals["wrk"] = children.ru_utime + children.ru_stime  # finished children: the wrk runs
    return totals


def load(target: Target) -> Target:
    post = target.script or target.scripts
    log(f"load: {target.name}: {'POST' if post else 'GET'} {target.path[:70]}")
    target.result = r = best_of(target)
    cpu = r["cpu_ms"]
    runs = " / ".join(f"{rps:.0f}" for rps in r["runs"])
    log(
        f"  {r['rps']:.0f} req/s (runs: {runs}), p50 {r['p50_us'] / 1000:.1f} ms, errors "
        f"{r['status_errors']}, CPU ms/request: server {cpu['server']:.2f}, "
        f"PostgreSQL {cpu['postgres']:.2f}"
    )
    return target


def etag_of(path: str, port: int = PORT) -> str:
    """The ETag an anonymous visitor gets for `path` (uncompressed, as wrk asks)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as response:
        etag = response.headers["ETag"]
    if not etag:
        raise RuntimeError(f"{path} sent no ETag")
    return etag


def article_slug() -> str:
    return psql("SELECT slug FROM articles ORDER BY published_at DESC LIMIT 1", BENCH_DB)


def lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def post_script(
    path: str, bodies: list[str], headers: dict[str, str], per_body_headers=None
) -> str:
    """A wrk script where thread k of n sends bodies k, k+n, k+2n… (each body used once)."""
    lines = ["local bodies = {"]
    lines += [f"  {lua_string(b)}," for b in bodies]
    lines.append("}")
    if per_body_headers:
        lines.append("local sigs = {")
        lines += [f"  {lua_string(h)}," for h in per_body_headers]
        lines.append("}")
    lines += [
        "local threads, counter = 0, 0",
        "setup = function(thread) thread:set('tid', threads); threads = threads + 1 end",
        "init = function(args) counter = tid end",
        "request = function()",
        "  local i = (counter % #bodies) + 1",
        f"  counter = counter + {THREADS}",
        "  local h = {}",
    ]
    lines += [f"  h[ {lua_string(k)} ] = {lua_string(v)}" for k, v in headers.items()]
    if per_body_headers:
        lines.append("  h['Stripe-Signature'] = sigs[i]")
    lines += [f"  return wrk.format('POST', {lua_string(path)}, h, bodies[i])", "end"]
    return "\n".join(lines)


def login(email: str, password: str) -> str:
    """Sign in through the real form (CSRF token and all); the session cookie for wrk."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"http://127.0.0.1:{PORT}/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    body = urlencode({"email": email, "password": password, "csrf_token": token}).encode()
    opener.open(f"http://127.0.0.1:{PORT}/login", data=body)
    cookies = {c.name: c.value for c in jar}
    assert "session" in cookies, "login failed"
    return f"session={cookies['session']}"


def app_facts() -> dict:
    """Ids and cursors from the seeded database, through the app's own services."""
    code = r"""
import json
from sqlalchemy import select
from app import create_app
from extensions import db
from crm.leads.models import Lead
from crm.leads.services import encode_cursor
app = create_app()
with app.app_context():
    n = db.session.scalar(select(db.func.count()).select_from(Lead))
    deep = db.session.scalars(select(Lead).order_by(Lead.created_at.desc(), Lead.id.desc())
                              .offset(n // 2).limit(1)).one()
    busy = db.session.execute(db.text(
        "SELECT lead_id FROM bookings GROUP BY lead_id ORDER BY count(*) DESC LIMIT 1")).scalar()
    print(json.dumps({"deep_cursor": encode_cursor("newest", deep), "deep_position": n // 2,
                      "lead_id": busy, "rare_email": "lead4242@"}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=app_env(), capture_output=True, text=True
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_slots(limit: int) -> list[str]:
    slots: list[str] = []
    start = datetime.now(UTC).date()
    from datetime import timedelta

    while len(slots) < limit:
        query = urlencode({"start": start.isoformat(), "days": 15, "tz": "America/New_York"})
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/api/v1/slots?{query}") as r:
            batch = [s["start"] for s in json.loads(r.read())]
        if not batch:
            break
        slots += batch
        start += timedelta(days=15)
    return slots[:limit]


def _split(items: list, parts: int) -> list[list]:
    """`items` in `parts` disjoint runs' worth (a POST body is used once)."""
    size = -(-len(items) // parts)
    return [items[i * size : (i + 1) * size] for i in range(parts)]


def booking_bodies(slots: list[str]) -> list[str]:
    return [
        json.dumps(
            {
                "name": f"Bench Runner {i}",
                "email": f"bench{i}@example.com",
                "slot_start": slot,
                "timezone": "America/New_York",
                "marketing_consent": False,
            }
        )
        for i, slot in enumerate(slots)
    ]


def webhook_bodies(n: int) -> tuple[list[str], list[str]]:
    import stripe

    now = int(time.time())
    bodies, signatures = [], []
    for i in range(n):
        body = json.dumps(
            {
                "id": f"evt_bench_{now}_{i}",
                "object": "event",
                "type": "customer.created",
                "created": now,
                "data": {"object": {"id": f"cus_bench_{i}", "object": "customer"}},
            }
        )
        bodies.append(body)
        signatures.append(
            stripe.WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET, timestamp=now)
        )
    return bodies, signatures


PROFILE_CODE = r"""
import cProfile, json, os, pstats, sys, time
from sqlalchemy import event
from app import create_app
from extensions import db
app = create_app({"WTF_CSRF_ENABLED": False})
coach, runner, anonymous = app.test_client(), app.test_client(), app.test_client()
coach.post("/login", data={"email": "coach@bench.example", "password": "bench password 1"})
runner.post("/login", data={"email": "client0@bench.example", "password": "bench password 1"})
clients = {"coach": coach, "runner": runner, "anonymous": anonymous}
stats = []
with app.app_context():
    engine = db.engine
event.listen(engine, "before_cursor_execute",
             lambda conn, *a: conn.info.__setitem__("t", time.perf_counter()))
event.listen(engine, "after_cursor_execute", lambda conn, cur, stmt, *a: stats.append(
    (time.perf_counter() - conn.info["t"], " ".join(stmt.split())[:80])))
out = []
root = os.getcwd() + "/"
for who, url in json.loads(sys.argv[1]):
    client = clients[who]
    # Anonymous pages are asked for fresh (a hard reload), so the profile shows their render.
    headers = {"Cache-Control": "no-cache"} if who == "anonymous" else {}
    first = client.get(url, headers=headers)
    size = len(first.get_data())
    best = None
    for _ in range(5):
        stats.clear()
        t = time.perf_counter()
        client.get(url, headers=headers)
        total = time.perf_counter() - t
        if best is None or total < best[0]:
            best = (total, sum(s for s, _ in stats), len(stats), max(stats, default=(0, "")))
    # Where the CPU goes: 100 requests under cProfile with a CPU clock (time spent waiting for
    # PostgreSQL is not counted: that is the server's, in the load's CPU column). Listed: the
    # app's own functions and templates, and the libraries' doors (rendering, SQL execution,
    # the sign-in look-up), by the share of the CPU spent in them and what they call.
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(100):
        client.get(url, headers=headers)
    profiler.disable()
    rows = pstats.Stats(profiler).stats  # {(file, line, name): (calls, calls, own, cumulative, …)}
    total_cpu = sum(row[2] for row in rows.values()) or 1.0
    doors = {
        ("flask/templating.py", "render_template"), ("sqlalchemy/orm/session.py", "execute"),
        ("flask_login/login_manager.py", "_load_user"), ("sqlalchemy/orm/session.py", "commit"),
    }
    mine = [
        (row[3] / total_cpu, path.split("site-packages/")[-1].replace(root, ""), line, name)
        for (path, line, name), row in rows.items()
        if (path.startswith(root) and "/.venv/" not in path and "/bench/" not in path)
        or (path.split("site-packages/")[-1], name) in doors
    ]
    top = sorted((m for m in mine if m[0] < 0.9), reverse=True)[:16]
    flat = "\n".join(f"{100 * share:5.1f}%  {name}  {path}:{line}" for share, path, line, name
                      in top)
    calls = pstats.Stats(profiler).total_calls / 100  # Python calls per request: no clock
    out.append([url, *best, size, who, flat, calls])
print(json.dumps(out))
"""


def profile_pages(pages: list[tuple[str, str]]) -> list:
    """One request at a time, in-process, no load: total time, SQL time, queries, slowest."""
    out = subprocess.run(
        [sys.executable, "-c", PROFILE_CODE, json.dumps(pages)],
        cwd=ROOT,
        env=app_env(LOG_LEVEL="WARNING"),
        capture_output=True,
        text=True,
    )
    if out.returncode:
        return []
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- other figures -------------------------------------------------------------------------------


def explain_search() -> str:
    sql = (
        "EXPLAIN (ANALYZE, COSTS OFF) SELECT id FROM leads WHERE name ILIKE '%lead4242@%'"
        " OR email ILIKE '%lead4242@%' OR phone ILIKE '%lead4242@%'"
        " ORDER BY created_at DESC, id DESC LIMIT 51"
    )
    return psql(sql, BENCH_DB)


def run_script(name: str, *args: str) -> str | None:
    path = ROOT / "bench" / name
    if not path.exists():
        return None
    log(f"running bench/{name}")
    out = subprocess.run(
        [sys.executable, str(path), *args],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode:
        return (
            f"(bench/{name} failed with exit {out.returncode}:\n\n```\n{out.stderr[-1500:]}\n```)"
        )
    return out.stdout.strip()


def run_module(name: str) -> str:
    log(f"running {name}")
    out = subprocess.run(
        [sys.executable, "-m", name], cwd=ROOT, env=app_env(), capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    if out.returncode:
        return f"({name} failed with exit {out.returncode}:\n\n```\n{out.stderr[-1500:]}\n```)"
    return out.stdout.strip()


def machine() -> dict:
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    pg = psql("SHOW server_version")
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    return {
        "cores": CORES,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu[1].strip() if cpu else platform.processor(),
        "python": platform.python_version(),
        "postgres": pg,
        "wrk": wrk_version,
        "kernel": platform.release(),
        "load": os.getloadavg()[0],
    }


# --- the run -------------------------------------------------------------------------------------


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (make bench installs Debian's wrk).")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "instance").mkdir(exist_ok=True)
    started = time.perf_counter()
    info = machine()
    log(f"machine: {info}")
    data = seed()
    log("EXPLAIN of the lead search")
    plan = explain_search()
    facts = app_facts()
    log("one request at a time, in-process")
    slug = article_slug()
    profile = profile_pages(
        [
            ("anonymous", "/"),
            ("anonymous", "/articles"),
            ("anonymous", f"/articles/{slug}"),
            ("anonymous", "/book?tz=America/New_York"),
            ("anonymous", "/api/v1/slots?days=7&tz=America/New_York"),
            ("coach", "/coach/leads"),
            ("coach", f"/coach/leads?{urlencode({'cursor': facts['deep_cursor']})}"),
            ("coach", "/coach/leads?q=Garcia"),
            ("coach", "/coach/leads?q=lead4242%40"),
            ("coach", f"/coach/leads/{facts['lead_id']}"),
            ("coach", "/coach"),
            ("runner", "/portal"),
        ]
    )
    results: list[Target] = []

    # The seed leaves PostgreSQL writing out its ~400 MB: a CHECKPOINT now, so that the baseline
    # is not measured beside that (it had been, at a third of its later speed).
    log("CHECKPOINT")
    psql("CHECKPOINT")
    with Server("bench.hello:app", "hello"):
        log("baseline: hello")
        hello_before = best_of(Target("hello", "/"))

    with Server("app:create_app()", "hero"):
        coach = login("coach@bench.example", "bench password 1")
        runner = login("client0@bench.example", "bench password 1")
        # The public pages with the coach's real (default) availability first: fresh (every
        # request rendered), revalidated (If-None-Match: a 304), and through nginx's cache.
        article = f"/articles/{slug}"
        book = "/book?tz=America/New_York"
        fresh = {"Cache-Control": "no-cache"}  # a hard reload: the app renders the page
        for target in (
            Target("Landing page", "/"),
            Target("Landing page, rendered (no-cache)", "/", headers=fresh),
            Target("Landing page, revalidated (304)", "/", headers={"If-None-Match": etag_of("/")}),
            Target("Articles list", "/articles"),
            Target("Articles list, rendered (no-cache)", "/articles", headers=fresh),
            Target("Articles list, revalidated (304)", "/articles",
                   headers={"If-None-Match": etag_of("/articles")}),
            Target("An article", article),
            Target("An article, rendered (no-cache)", article, headers=fresh),
            Target("An article, revalidated (304)", article,
                   headers={"If-None-Match": etag_of(article)}),
            Target("Public slots page", book),
            Target("Public slots page, rendered (no-cache)", book, headers=fresh),
            Target("Slots API (7 days)", "/api/v1/slots?days=7&tz=America/New_York"),
            Target("Slots API (7 days), computed (no-cache)",
                   "/api/v1/slots?days=7&tz=America/New_York", headers=fresh),
        ):  # fmt: skip
            results.append(load(target))
        with Nginx():
            for name, path in (("Landing page", "/"), ("Articles list", "/articles"),
                               ("An article", article), ("Public slots page", book)):  # fmt: skip
                results.append(load(Target(f"{name}, nginx cache", path, port=NGINX_PORT)))
        # The signed-in pages first, on the seeded data: the booking run below books a call every
        # 10 minutes of every day ahead, ~75 of them today, which is no coach's day and would be
        # the dashboard's "today" list.
        lead_list = "/coach/leads"
        targets = [
            Target("Lead list, first page", lead_list, cookie=coach),
            Target(
                "Lead list, deep keyset page",
                f"{lead_list}?{urlencode({'cursor': facts['deep_cursor']})}",
                cookie=coach,
            ),
            Target("Lead list, search (common name)", f"{lead_list}?q=Garcia", cookie=coach),
            Target("Lead list, search (rare email)", f"{lead_list}?q=lead4242%40", cookie=coach),
            Target("Lead detail", f"/coach/leads/{facts['lead_id']}", cookie=coach),
            Target("Coach dashboard", "/coach", cookie=coach),
            Target("Runner today page", "/portal", cookie=runner),
            Target("Health check", "/healthz"),
        ]
        for target in targets:
            results.append(load(target))
        open_the_calendar()
        booking_slots = free_slots(9_000)
        log(f"{len(booking_slots)} free slots for the booking runs")
        bodies, signatures = webhook_bodies(30_000)
        json_type = {"Content-Type": "application/json"}
        for target in (
            Target(
                "Booking POST (API)",
                "/api/v1/bookings",
                scripts=[
                    post_script("/api/v1/bookings", booking_bodies(part), json_type)
                    for part in _split(booking_slots, RUNS)
                ],
            ),
            Target(
                "Stripe webhook POST",
                "/stripe/webhook",
                scripts=[
                    post_script("/stripe/webhook", part, json_type, sigs)
                    for part, sigs in zip(
                        _split(bodies, RUNS), _split(signatures, RUNS), strict=True
                    )
                ],
            ),
        ):
            results.append(load(target))
        bookings_made = psql(
            "SELECT count(*) FROM bookings b JOIN leads l ON l.id = b.lead_id"
            " WHERE l.email LIKE 'bench%'",
            BENCH_DB,
        )

    with Server("bench.hello:app", "hello"):
        log("baseline again: hello")
        hello_after = best_of(Target("hello", "/"))

    plans = run_script("bench_plans.py")
    emails = run_script("bench_email.py", "--count", EMAIL_COUNT)
    transcode = run_module("bench.transcode") if shutil.which("ffmpeg") else None
    total = time.perf_counter() - started
    write_report(info, data, plan, facts, hello_before, hello_after, results, plans, emails,
                 int(bookings_made), total, profile, transcode)  # fmt: skip
    log(f"done in {total / 60:.1f} min; wrote {OUT.relative_to(ROOT)}")
    try:
        import redis

        redis.Redis.from_url(BROKER).flushdb()  # the send tasks nobody consumed
    except Exception as exc:  # noqa: BLE001 - cleanup only
        log(f"could not flush the bench broker: {exc}")


if __name__ == "__main__":
    main()
