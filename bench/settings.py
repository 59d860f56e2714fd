"""The benchmark run's settings, from the environment (see bench/http.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
WORK = Path(os.environ.get("BENCH_WORK", "/tmp/hero-bench"))
PG_SERVER = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
BENCH_DB = os.environ.get("BENCH_DB", "hero_bench")
# Not db 14: bench/bench_email.py uses that one for its own queue.
BROKER = os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/13")
# bench_email.py delivers ~25 emails/s on this machine: 2,000 keeps `make bench` under 15 min.
EMAIL_COUNT = os.environ.get("BENCH_EMAIL_COUNT", "2000")
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
CORES = os.cpu_count() or 1
WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * CORES)))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
# Each URL is loaded RUNS times for DURATION seconds and its best run is its figure: the
# machine's speed drifts by a third over minutes (seen here), and a slow stretch only lowers.
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
DURATION = int(os.environ.get("BENCH_DURATION", "5"))
PORT = int(os.environ.get("BENCH_PORT", "58080"))
WEBHOOK_SECRET = "whsec_bench_only"
SECRET_KEY = "bench-secret-key-not-for-production"
OUT = ROOT / "BENCHMARKS.md"
