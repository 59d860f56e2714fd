"""Error pages: JSON for API clients, HTML for browsers; a 500 rolls the session back.

The database or the picture store being down is a 503 (retry later), not a 500."""

from __future__ import annotations

from flask import Flask, g, jsonify, render_template, request
from flask_login import AnonymousUserMixin
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from crm.storage import StorageUnavailable
from extensions import db


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def json_body(error: HTTPException) -> dict:
    """The JSON error: code, status, message, and the field messages (`errors`) when the API's
    schemas or a service gave them (plus fresh `slots` when a booking lost its time)."""
    data = getattr(error, "data", None) or {}
    body = {
        "code": error.code,
        "status": error.name,
        "message": data.get("message") or error.description,
    }
    errors = data.get("errors") or data.get("messages")
    if errors:
        body["errors"] = errors
    if "slots" in data:
        body["slots"] = data["slots"]
    return body


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if wants_json():
            response = jsonify(json_body(error))
            response.headers.extend((getattr(error, "data", None) or {}).get("headers", {}))
        else:
            response = app.make_response(render_template("errors/error.html", error=error))
        response.status_code = error.code or 500
        retry_after = getattr(error, "retry_after", None) or (
            error.response.headers.get("Retry-After") if error.response is not None else None
        )
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(OperationalError)
    def _database_unavailable(error: OperationalError):
        db.session.rollback()
        # The page's navigation reads current_user; loading her would hit the database again.
        g._login_user = AnonymousUserMixin()
        app.logger.warning("database unavailable: %s", error.orig)
        return _http_error(ServiceUnavailable("The service is briefly unavailable. Please retry."))

    @app.errorhandler(StorageUnavailable)
    def _storage_unavailable(error: StorageUnavailable):
        app.logger.warning("picture storage unavailable: %s", error)
        return _http_error(ServiceUnavailable("The picture is briefly unavailable. Please retry."))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error")
        return _http_error(InternalServerError())
