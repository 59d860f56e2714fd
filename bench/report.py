"""BENCHMARKS.md from one `make bench` run's figures, with what limits each page."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.settings import CONNECTIONS, DURATION, EMAIL_COUNT, OUT, RUNS, THREADS, WORKERS

NGINX = (
    "nginx answering from its proxy cache (a HIT; it revalidates with the ETag once the "
    "60 s s-maxage is over, serving the stale copy meanwhile): no Python at all; wrk and "
    "nginx share the 2 cores"
)
COPY = (
    "a new visitor's full 200, answered before Flask from what this process rendered less "
    "than 5 s ago (crm/site/caching.py): a dict look-up and the bytes; one render per process "
    "and URL every 5 s, or after a write; gunicorn's sync worker and the loopback, as for hello"
)
LIMITS = {
    "hello (baseline)": "gunicorn's sync workers and the loopback; wrk shares the 2 cores",
    "Landing page": COPY,
    "Landing page, rendered (no-cache)": "a hard reload: no query (the copy is kept per "
    "process); Jinja rendering base.html and the page, Flask's request handling and its hooks "
    "(request id, NUL check, security headers, the JSON access-log line, the cache headers), "
    "gunicorn",
    "Landing page, revalidated (304)": "answered before Flask (crm/site/caching.py): a dict "
    "look-up and the If-None-Match compare; gunicorn's sync worker and the loopback, as for "
    "hello",
    "Articles list": COPY,
    "Articles list, rendered (no-cache)": "no query while the articles' version stands (the "
    "live articles are kept per process); rendering the cards and the topic bar, Flask's hooks",
    "Articles list, revalidated (304)": "as the landing page's 304: before Flask",
    "An article": COPY,
    "An article, rendered (no-cache)": "one query (the coach's exercises: this article embeds "
    "one) and rendering; the Markdown is converted once per process (memoised)",
    "An article, revalidated (304)": "as the landing page's 304: before Flask",
    "Public slots page": COPY,
    "Public slots page, rendered (no-cache)": "4 statements (the coach's settings, her windows "
    "and days off in one, the week's bookings, her calendar feed) and rendering a radio per "
    "free slot of the week and the form's fields",
    "Slots API (7 days)": COPY,
    "Slots API (7 days), computed (no-cache)": "2 statements (the coach's settings, windows "
    "and days off and whether she has a calendar feed in one; the week's bookings; her feed's "
    "copy only when she has one) and flask-smorest's serialisation; the slots themselves take "
    "<1 ms",
    "Landing page, nginx cache": NGINX,
    "Articles list, nginx cache": NGINX,
    "An article, nginx cache": NGINX,
    "Public slots page, nginx cache": NGINX,
    "Booking POST (API)": (
        "5 statements on PostgreSQL (the coach's settings, windows and days off, whether she "
        "has a calendar feed and how the call happens, in one; a booking that clashes with the "
        "slot, if any, and her lead's id, in one; then, in one transaction, the new lead, "
        "inserted at its final stage, and the booking, each a Core INSERT (crm/rows.py), and "
        "its timeline entries in one INSERT) and the commit. The task with which the worker "
        "queues her three emails (crm.booking.queue_emails) is published once a second by "
        "each gunicorn worker, for all its bookings of that second. Python's share: "
        "SQLAlchemy's and psycopg's execution of the 5 statements, flask-smorest's parsing "
        "and Flask's hooks"
    ),
    "Lead list, first page": (
        "2 statements (the user; the 50 rows with the capped count, the coach's zone and the "
        "lead sources in one, as Core, the sources' JSON parsed from the first row only), no "
        "BEGIN, ROLLBACK or ping round trips (crm/connections.py), the rows' cells prepared in "
        "Python by position and kept by what they show (a row seen before is joined, not "
        "rebuilt), the filter form (no filter asked for), the navigation and the head's links "
        "rendered once per process; Python's share is the signed-in floor (the sign-in "
        "look-up, Flask's hooks) and Jinja"
    ),
    "Lead list, deep keyset page": "as the first page: the keyset seek costs what page 1 costs",
    "Lead list, search (common name)": "the page and a count that stops at 1,001 matches, both "
    "from the trigram indexes' bitmaps",
    "Lead list, search (rare email)": "three trigram bitmap index scans; no count query when "
    "the matches fit on one page",
    "Lead detail": "2 statements (the user; the lead with the coach's zone, her calls and her "
    "timeline as JSON lists, which of her other lists have rows and the programmes on sale) "
    "and the page's forms in plain markup on GET (WTForms validates the POSTs)",
    "Coach dashboard": (
        "6 statements (the user; the kept funnel and revenue with the coach's zone and the busy "
        "feed's status; today's and upcoming calls in one, 20 of each at most: the seeded "
        "calendar has a call every 30 minutes of every day, ~40 today; new leads with the "
        "week's count from the index; clients who need her; the articles' attribution in one "
        "grouped statement), its four lists built in Python (crm/dashboard/rows.py)"
    ),
    "Runner today page": "2 statements (the user with her access state; her plan, time "
    "zone and the day's logs in one), no BEGIN, ROLLBACK or ping round trips; the log forms "
    "read from their shape on GET (crm.forms.blank_form), their hidden inputs and rows of "
    "choices built in Python (programs/markup.py). Her milestone (was the run/walk she did "
    "that day her first that long?) rides in the day's statement: each log keeps the run her "
    "plan set when she logged it, and a subquery reads the longest before it",
    "Health check": "a SELECT 1 and a Redis PING through the pool",
    "Stripe webhook POST": "signature check (HMAC), event ledger insert, broker publish",
}


# The goals of issue 15: each page's throughput as a share of the bare route's, same run.
GOALS = {
    "Landing page": 0.5,
    "Landing page, revalidated (304)": 0.8,
    "Articles list": 0.5,
    "Articles list, revalidated (304)": 0.8,
    "An article": 0.5,
    "An article, revalidated (304)": 0.8,
    "Public slots page": 0.2,
    "Slots API (7 days)": 0.25,
    "Booking POST (API)": 0.06,
    "Lead list, first page": 0.1,
    "Lead list, deep keyset page": 0.1,
    "Lead detail": 0.1,
    "Coach dashboard": 0.05,
    "Runner today page": 0.1,
}
PROFILED = {  # the in-process profile of each loaded page, to show where a missed goal goes
    "Landing page": "/", "Articles list": "/articles", "An article": "/articles/",
    "Public slots page": "/book?", "Slots API (7 days)": "/api/v1/slots?",
    "Lead list, first page": "/coach/leads", "Lead detail": "/coach/leads/",
    "Coach dashboard": "/coach", "Runner today page": "/portal",
}  # fmt: skip


TRANSCODE_INTRO = (
    "Worker time per second of uploaded video: phone-like clips (H.264/AAC, 30 fps, 12 Mbit/s, "
    "a moving noisy test pattern) through the worker's own `transcode_file` (ffprobe, then "
    "H.264 `veryfast` CRF 26 + AAC 96k, at most 720p, faststart, poster frame), Debian's "
    "ffmpeg. CPU time is the figure to plan with; wall time includes the machine's other load."
)
TRANSCODE_OUTRO = (
    "The last column is what a second of uploaded video costs one worker core, once per upload "
    "(the coach's library, not per runner)."
)


def cpu(result: dict) -> str:
    used = result.get("cpu_ms") or {}
    if not used:
        return "-"
    return " / ".join(f"{used.get(k, 0.0):.2f}" for k in ("server", "postgres", "wrk"))


def ms(us: float) -> str:
    return f"{us / 1000:.1f}"


# What meeting a missed goal would take, from the CPU column and the profiles of this run.
WOULD_TAKE = {
    "Booking POST (API)": "The request books and does nothing else: 5 statements (the rules "
    "with how the call happens; the clash check with her lead's id; the new lead and the "
    "booking as Core INSERTs, crm/rows.py; the timeline as one multi-row INSERT) and the "
    "commit; the worker's task is published once a second per process, not per booking "
    "(Celery's publish was 12 % of a booking's CPU). 7,200 → 4,600 Python calls a booking "
    "in this round. What is left is SQLAlchemy's and psycopg's cost a statement (~175 µs of "
    "CPU each, measured), Flask's and flask-smorest's handling, and PostgreSQL's: the "
    "leads' three trigram indexes cost it ~0.2 ms a new lead (5,000 INSERTs timed with and "
    "without them). Fewer statements would mean one dialect's SQL (a CTE inserting the lead "
    "and the booking together), or the worker making the lead, which would change the API's "
    "answer (no lead id yet).",
    "Lead list, first page": "A signed-in page's floor (the sign-in look-up through the ORM, "
    "Flask's request handling and hooks, base.html, gunicorn) is about half of a signed-in "
    "page's server CPU. The filter form is now rendered once per process when no filter is "
    "asked for, and each row's HTML is kept by the values it shows (7,200 → 4,300 Python "
    "calls a request). Of the page's own work the profile below shows its statement "
    "(`lead_list_page`, as Core rows: PostgreSQL's share is the capped count's 1,001 index "
    "entries and the sources' skip scan) and Jinja. The rest would need the whole page kept "
    "per coach until a lead changes (a version bumped on every write to leads, which every "
    "writer, the workers' included, would have to keep).",
    "Lead list, deep keyset page": "As the first page.",
    "Lead detail": "Its calls and timeline now ride with the lead as JSON lists (4 statements "
    "→ 2). What is left is the floor, the lead as an ORM object (the forms read it) and "
    "the page's template.",
    "Coach dashboard": "Less Python in its template (the funnel, the revenue card and the "
    "articles' attribution table, ~0.7 ms) and the new leads read with the calls (one "
    "statement fewer).",
    "Runner today page": "Beside the floor she pays her day's statement (the plan's "
    "~35 KB of text comes every time: its parse is kept per process by content, the "
    "transfer is not) and the day's template (its forms are read from their shape, not "
    "built). Her milestone now rides in that statement (each log keeps the run her plan set "
    "when she logged it), not two more. The plan's text sent only when the process lacks it "
    "(keyed by a hash PostgreSQL computes) would save its transfer but not PostgreSQL's "
    "reading of it.",
}


def missed_goals(missed: list[tuple[str, float]], profile: list) -> list[str]:
    """For each page under its goal (and the share of its CPU that meeting it would take off),
    its in-process profile: where the CPU goes."""
    if not missed:
        return ["Every page met its goal in this run.", ""]
    lines = [
        "## The goals missed, with their profiles",
        "",
        "For each page under its goal: a CPU profile of 100 requests in-process (cProfile with "
        "a CPU clock, so waiting for PostgreSQL is not counted; the app's functions and "
        "templates and the libraries' doors — rendering, SQL execution, the sign-in look-up — "
        "by the share of the CPU spent in them and in what they call; bench/http.py), the "
        "evidence for what limits it and what meeting the goal would take (see the table's "
        "last column and the notes below it). The share to take off is 1 − ratio ÷ goal: the "
        "requests per second of a CPU-bound page are the cores' time over its CPU per request.",
        "",
    ]
    for name, cut in missed:
        prefix = PROFILED.get(name)
        # A value ending in "/" or "?" is a prefix; any other is the exact URL.
        entry = next((p for p in profile if prefix and (p[0] == prefix or (
            prefix[-1] in "/?" and p[0].startswith(prefix)))), None)  # fmt: skip
        lines += [f"### {name}" + (f" (`{entry[0][:60]}`)" if entry else ""), ""]
        lines += [
            f"Meeting the goal would take about {cut:.0%} less CPU per request. "
            f"{WOULD_TAKE.get(name, '')}".rstrip(),
            "",
        ]
        if entry is not None:  # the POSTs and the deep page have no in-process profile
            top = [line for line in entry[7].splitlines() if line.strip()][:16]
            lines += ["```", *top, "```", ""]
    return lines


def write_report(info, data, plan, facts, hello_before, hello_after, results, plans, emails,
                 bookings_made, total, profile, transcode=None) -> None:  # fmt: skip
    hello_rps = (hello_before["rps"] + hello_after["rps"]) / 2
    hello_cpu = (hello_before.get("cpu_ms") or {}).get("server", 0.0)
    lines = [
        "# Hero benchmarks",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench` "
        f"(`.venv/bin/python -m bench.http`), which took {total / 60:.1f} minutes. Every figure "
        "below comes from that one run; re-running it rewrites this file.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {info['cpu']}, **{info['cores']} cores** |",
        f"| Memory | {info['memory_gib']} GiB |",
        f"| Software | Python {info['python']}, PostgreSQL {info['postgres']}, Redis broker, "
        f"wrk {info['wrk']}, Linux {info['kernel']} |",
        f"| Server | gunicorn, {WORKERS} sync workers, on 127.0.0.1 |",
        f"| Load | wrk, {THREADS} threads, {CONNECTIONS} connections, the best of {RUNS} runs of "
        f"{DURATION} s per URL, each after a 1 s warm-up (none for the POSTs: their bodies are "
        "single-use, a third of them for each run), on the same machine |",
        "",
        f"Load average when the run started: {info['load']:.1f}. "
        "The load generator runs on the same two cores as the server, PostgreSQL and Redis, so "
        "absolute figures are a floor: on a real deployment the load comes from elsewhere. The "
        "ratios to the bare route, measured the same way in the same run, are the figures to "
        "compare.",
        "",
        "## Data",
        "",
        f"`{data['command']}` on PostgreSQL: {data['rows']:,} rows in {data['seconds']:.0f} s "
        f"({data['rows'] / data['seconds']:,.0f} rows/s, COPY), database size {data['size']}.",
        "",
        "| Leads | Clients | Workout logs | Seed time | Baseline |",
        "|---:|---:|---:|---:|---|",
        f"| {data['leads']:,} | {data['clients']:,} | {data['logs']:,} | "
        f"{data['seconds']:.0f} s | one ORM object at a time would be ~20x slower |",
        "",
        "What limits it: Python building the rows (one process); PostgreSQL's COPY and the "
        "index maintenance (three trigram GIN indexes on leads) are not the bottleneck.",
        "",
        "## HTTP throughput and latency",
        "",
        f'Baseline: a bare Flask "hello" route (bench/hello.py) served the same way: '
        f"{hello_before['rps']:,.0f} req/s before and {hello_after['rps']:,.0f} req/s after "
        f"Hero's run; their mean, **{hello_rps:,.0f} req/s**, is the 1.00 of the ratio column. "
        f"Every figure, the baseline's too, is the best of {RUNS} runs: this machine's speed "
        "drifts by as much as a third over a few minutes (the same page, unchanged, has given "
        "186 and 316 req/s in two runs an hour apart), and a slow stretch can only lower a run. "
        "Every run's requests per second are listed under the table. "
        "Goals (issue 15): a ratio per page, in the same run. A public page is loaded three "
        "ways: as a new visitor asks for it (no validator: a full 200, which each gunicorn "
        "worker answers from what it rendered less than 5 s before), rendered (`Cache-Control: "
        "no-cache`, a hard reload: the app renders every request) and revalidated "
        "(`If-None-Match`: a 304); then through nginx's cache.",
        "",
        "CPU per request is measured during each load (from /proc): the server's processes "
        "(gunicorn, or nginx for the proxy rows), PostgreSQL's, and wrk's own, in ms; the two "
        "cores give about 2,000 ms of CPU per second, shared by the three.",
        "",
        "A ratio is only as steady as its baseline. The bare route's cost is almost all "
        "gunicorn, the loopback and system calls; a page's is mostly Python. Machines weigh the "
        f"two differently (here the bare route cost {hello_cpu:.2f} ms of server CPU a request; "
        "0.26 ms on the AMD EPYC of an earlier run, 0.41 ms on an Intel Xeon), so the same code "
        "can meet a ratio on one machine and miss it on another. The Python calls per request "
        "in the in-process table below are the machine-independent figure.",
        "",
        "| Page | Requests/s | Ratio to hello | p50 ms | p95 ms | p99 ms | CPU ms/request: "
        "server / PostgreSQL / wrk | Non-2xx/3xx | Goal | Met | What limits it |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---|",
    ]
    hello = {"rps": hello_rps, **{k: hello_before[k] for k in ("p50_us", "p95_us", "p99_us")}}
    hello["runs"] = hello_before.get("runs", []) + hello_after.get("runs", [])
    hello["cpu_ms"] = hello_before.get("cpu_ms", {})
    rows = [("hello (baseline)", "GET /", hello, 0)]
    rows += [
        (t.name, f"{t.method if not t.script else 'POST'} {t.path.split('?')[0]}", t.result,
         t.result["status_errors"])
        for t in results
    ]  # fmt: skip
    missed = []
    for name, _, r, errors in rows:
        ratio = r["rps"] / hello_rps
        goal = GOALS.get(name)
        ok = "" if goal is None else ("✓" if ratio >= goal else "✗")
        shown_goal = f"≥ {goal:.2f}" if goal else "-"
        if goal is not None and ratio < goal:
            missed.append((name, 1 - ratio / goal))
        lines.append(
            f"| {name} | {r['rps']:,.0f} | {ratio:.2f} | {ms(r['p50_us'])} | {ms(r['p95_us'])} | "
            f"{ms(r['p99_us'])} | {cpu(r)} | {errors} | {shown_goal} | {ok} | "
            f"{LIMITS.get(name, '')} |"
        )
    lines += [
        "",
        "Every run's requests per second, in the order they ran (the best is the table's): "
        + "; ".join(
            f"{name} {' / '.join(f'{rps:,.0f}' for rps in r['runs'])}"
            for name, _, r, _ in rows
            if r.get("runs")
        )
        + ".",
        "",
        "URLs: the landing page `/`; the public slots page `/book`; `GET /api/v1/slots?days=7`; "
        "`POST /api/v1/bookings` with a fresh free slot per request (the coach's calendar is "
        "opened to every 10 minutes for 62 days first, so no request collides; "
        f"{bookings_made:,} bookings were made); the coach's lead list `/coach/leads` (50 per "
        f"page, newest first), the same list at a keyset cursor {facts['deep_position']:,} rows "
        "deep, searched for a common surname (`q=Garcia`) and for one email (`q=lead4242@`); a "
        "lead's detail page; the dashboard `/coach`; a client's `/portal` (her plan and logs); "
        "`POST /stripe/webhook` with a distinct signed `customer.created` event per request; "
        "`/healthz`. Signed in through the real login form; rate limits off for the run (every "
        "request comes from 127.0.0.1; the limits are covered by tests/security/).",
        "",
        *missed_goals(missed, profile),
        "## Where the time goes: one request at a time",
        "",
        "The same pages requested in-process (Flask's test client, no HTTP, no concurrency) at "
        "this run's data size, best of five: the cost of the page itself, without the machine's "
        "contention. The gap between these and the loaded figures above is the two shared cores. "
        "Python calls per request (counted by cProfile over 100 requests) need no clock: they "
        "are the figure to compare between machines and runs.",
        "",
        "| URL | As | Total ms | SQL ms | Queries | Python calls | Bytes | Slowest statement |",
        "|---|---|---:|---:|---:|---:|---:|---|",
        *[
            f"| `{url[:60]}` | {who} | {t * 1000:.1f} | {q * 1000:.1f} | {n} | {calls:,.0f} | "
            f"{size:,} | {slow[0] * 1000:.1f} ms `{slow[1].replace('|', '/')}` |"
            for url, t, q, n, slow, size, who, _flat, calls in profile
        ],
        "",
        "## Query counts",
        "",
        "Asserted in tests, not timed: the lead list (tests/crm/leads/test_lead_list.py), the "
        "dashboard, pipeline, lead detail, outbox, the coach's client list, the runner's "
        "today/week/progress pages and `GET /api/v1/leads` (tests/bench/test_query_counts.py) "
        "run the same number of queries for 3 rows as for 33; booking a call writes the lead, "
        "the booking and its timeline and no email, with no UPDATE for the consent and no "
        "look-up of nurture emails for a new lead (5 statements on SQLite; a calendar feed "
        "adds the read of its copy), and the worker queues its three emails (confirmation, two "
        "reminders) in one INSERT once it commits, rendering none of them (the sender renders "
        "the emails and the .ics when "
        "it sends them). Each page's statements and rendered bytes have a budget "
        "(tests/bench/test_budgets.py).",
        "",
        "## Lead search: the index",
        "",
        "Substring search (`ILIKE '%q%'`) on name, email and phone, served by three `pg_trgm` GIN "
        "indexes (crm/leads/models.py). Trigrams rather than full-text search because the coach "
        "types fragments — part of an email, of a phone number, of a surname — which full-text "
        "search does not match (it matches whole words and stems), while the trigram index "
        "answers any substring of three characters or more. On SQLite the search scans.",
        "",
        f"`EXPLAIN ANALYZE` at {data['leads']:,} leads (`q=lead4242@`):",
        "",
        "```",
        plan,
        "```",
        "",
    ]
    lines += ["## Plan generation", ""]
    lines += [plans] if plans else ["bench/bench_plans.py was not found in this run."]
    lines += ["", f"## Email fan-out ({EMAIL_COUNT} weekly check-ins, bench/bench_email.py)", ""]
    lines += [emails] if emails else ["bench/bench_email.py was not present in this run."]
    lines += ["", "## Exercise video transcoding (bench/transcode.py)", ""]
    lines += [TRANSCODE_INTRO, "", transcode or "bench/transcode.py did not run (no ffmpeg?).", ""]
    lines += [TRANSCODE_OUTRO]
    lines += [
        "",
        "## Reproduce",
        "",
        "```",
        "make bench                       # seeds, serves, loads, writes this file (< 15 min)",
        "BENCH_SCALE=0.1 make bench       # a tenth of the data",
        "BENCH_DURATION=30 make bench     # longer runs per URL",
        "BENCH_RUNS=5 make bench          # five runs per URL (the best is the figure)",
        "```",
        "",
        "Needs the local PostgreSQL (database `hero_bench` is dropped and recreated) and Redis "
        "(db 13 is the broker and is flushed afterwards; bench_email.py uses db 14); "
        "`make bench` installs Debian's `wrk` and `nginx` when they are missing.",
        "",
    ]
    OUT.write_text("\n".join(lines))
