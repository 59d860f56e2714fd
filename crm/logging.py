"""Structured logging: one JSON object per line, each carrying the request id of its request.

`init_app(app)` installs a handler on the root logger (so the app's, SQLAlchemy's and Celery's
records share one format) and an access-log line per request. `LOG_FORMAT=json` (the production
default) or `text` for development; `LOG_LEVEL` sets the level. The request id comes from the
`X-Request-ID` header a proxy sets, or one app.py makes (`g.request_id`), and is echoed back.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler

ACCESS_LOGGER = "hero.access"
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


def current_request_id() -> str | None:
    if has_request_context():
        return g.get("request_id")
    return None


class RequestIdFilter(logging.Filter):
    """Stamp every record with the request id of the request being served (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time, level, logger, message, request id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


def build_handler(fmt: str, stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    handler.set_name("hero")
    return handler


def init_app(app: Flask) -> None:
    """Log as JSON (or text) with request ids, and write one access-log record per request."""
    fmt = app.config.get("LOG_FORMAT", "text")
    root = logging.getLogger()
    # create_app may run many times in one process (tests): install the handler once.
    if not any(h.get_name() == "hero" for h in root.handlers):
        root.addHandler(build_handler(fmt))
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))
    # Flask's own default handler would print every app.logger record a second time.
    app.logger.removeHandler(default_handler)

    access = logging.getLogger(ACCESS_LOGGER)

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _access_log(response):
        started = g.get("request_started")
        access.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2)
                if started
                else None,
                "remote_addr": request.remote_addr,
            },
        )
        return response
