# Hero — `make run` serves the app with a Celery worker and beat; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: running needs the app's own dependencies only; the test-only packages
# (pytest, Playwright, localstripe...) install with `make test` and the other developer targets.
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
PORT ?= 5000
# The app derives BASE_URL (the links it prints and emails) from PORT when BASE_URL is unset.
export PORT
FLASK := $(BIN)/flask --app app
CELERY := $(BIN)/celery -A tasks.worker

.PHONY: install install-dev run test test-fast lint bench serve-prod clean chromium ffmpeg lighthouse audit

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

# Debian's Chromium for the browser tests (Playwright drives it through executable_path).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's ffmpeg: the worker probes and transcodes exercise videos with it (programs/demos.py).
ffmpeg:
	@command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || { \
	  echo "Installing Debian's ffmpeg for exercise videos"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; }

# Google's Lighthouse CLI for tests/e2e/test_lighthouse.py, installed with npm into .tools/.
# Pinned: Lighthouse 13 wants Node 22; 12.2.3 runs on Node 20.
LIGHTHOUSE_VERSION := 12.2.3
lighthouse:
	@test -x .tools/node_modules/.bin/lighthouse || { \
	  echo "Installing Lighthouse $(LIGHTHOUSE_VERSION) into .tools/ for the browser tests"; \
	  npm install --no-audit --no-fund --silent --prefix .tools -E lighthouse@$(LIGHTHOUSE_VERSION); }

run: $(STAMP) ffmpeg
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	@echo "Serving on $${BASE_URL:-http://127.0.0.1:$(PORT)} with a Celery worker and beat (Ctrl-C stops all)."
	@trap 'kill 0' EXIT INT TERM; \
	  $(CELERY) worker --loglevel=INFO --pool=solo --without-gossip --without-mingle & \
	  $(CELERY) beat --loglevel=INFO --schedule=instance/celerybeat-schedule & \
	  $(FLASK) run --port $(PORT) & \
	  wait

# Three pytest-xdist workers on two cores: much of the suite waits on PostgreSQL, Celery workers,
# SMTP and Chromium. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 3

test: $(DEV_STAMP) chromium lighthouse ffmpeg
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -n $(TEST_WORKERS)

test-fast: $(DEV_STAMP) ffmpeg
	$(BIN)/pytest -n $(TEST_WORKERS) -m "not e2e" -x -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff format --check .

serve-prod: $(STAMP) ffmpeg
	$(FLASK) db upgrade
	@trap 'kill 0' EXIT INT TERM; \
	  $(BIN)/gunicorn --workers $${WEB_CONCURRENCY:-4} --bind 0.0.0.0:$(PORT) 'app:create_app()' & \
	  $(CELERY) worker --loglevel=INFO --concurrency=$${WORKER_CONCURRENCY:-4} & \
	  $(CELERY) beat --loglevel=INFO --schedule=instance/celerybeat-schedule & \
	  wait

# Known vulnerabilities in the installed environment (PyPI advisory database); CI runs it.
# --strict: a package that could not be checked (e.g. no network) fails the audit.
audit: $(DEV_STAMP)
	$(BIN)/pip-audit --progress-spinner off --skip-editable --strict

# Seeds a scaled-down PostgreSQL database, serves the app with gunicorn (and the public pages
# also through Debian's nginx with deploy/hero-locations.conf), loads it with wrk, and writes
# the tables in BENCHMARKS.md (see bench/http.py; BENCH_SCALE=1 for the full 100k leads).
bench: $(DEV_STAMP) ffmpeg
	@for tool in wrk:wrk nginx:nginx-light; do \
	  command -v $${tool%%:*} >/dev/null 2>&1 || test -x /usr/sbin/$${tool%%:*} || { \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $${tool#*:} >/dev/null || { \
	      $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	      $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $${tool#*:} >/dev/null; }; }; \
	done
	$(BIN)/python -m bench.http

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
