"""The runner's phone app: the service worker at the site's root (so it may answer for /portal
while there is no signal). What it keeps and sends is in static/sw.js and static/js/offline.js."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, Response, current_app

# Python's table does not know the manifest's type; browsers want application/manifest+json.
mimetypes.add_type("application/manifest+json", ".webmanifest")

bp = Blueprint("offline", __name__)


@bp.get("/sw.js")
def service_worker():
    """static/sw.js from the root: a worker's scope is its own folder and below."""
    # A few kilobytes, read whole (no open file left to a client that never reads the body).
    script = (Path(current_app.static_folder) / "sw.js").read_bytes()
    response = Response(script, mimetype="text/javascript")
    # A new version must reach phones at once, whatever caching static files get.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response
