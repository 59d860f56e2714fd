"""Static files with fingerprinted names, cached for a year.

Every static URL goes through Flask's `url_for("static", filename=…)` (and Bootstrap-Flask's
`url_for("bootstrap.static", …)` for Bootstrap itself): a URL default rewrites the name to carry
the file's content hash — `css/hero.css` becomes `css/hero.3f2a1b9c0d4e.css` — so the one URL
helper every template already uses hands out fingerprinted URLs. A fingerprinted URL whose hash
is the file's current one is answered with `Cache-Control: public, max-age=31536000, immutable`
(a new release changes the name, not the content behind it); any other name, an old hash
included, is served with a short cache. nginx (deploy/nginx.conf) serves the same names from disk.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flask import Flask, current_app, has_request_context, request, send_from_directory, url_for
from markupsafe import Markup

from crm.memo import Newest

ONE_YEAR = 31_536_000
SHORT = 300
_FINGERPRINTED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{12})(?P<ext>\.[A-Za-z0-9]+)$")
_ENDPOINTS = ("static", "bootstrap.static")


def _folder(app: Flask, endpoint: str) -> str | None:
    if endpoint == "static":
        return app.static_folder
    blueprint = app.blueprints.get(endpoint.split(".", 1)[0])
    return blueprint.static_folder if blueprint is not None else None


def file_hash(folder: str, filename: str) -> str | None:
    """The first 12 hex digits of the file's SHA-256, once per process; None if it is missing."""
    key = (folder, filename)
    if key not in _hashes:
        path = Path(folder) / filename
        try:
            resolved = path.resolve(strict=True)
            resolved.relative_to(Path(folder).resolve())
            _hashes[key] = hashlib.sha256(resolved.read_bytes()).hexdigest()[:12]
        except (OSError, ValueError):
            _hashes[key] = None
    return _hashes[key]


_hashes: dict[tuple[str, str], str | None] = {}


def fingerprinted(folder: str, filename: str) -> str:
    digest = file_hash(folder, filename)
    if digest is None:
        return filename
    stem, dot, ext = filename.rpartition(".")
    return f"{stem}.{digest}.{ext}" if stem and dot and "/" not in ext else filename


def _add_fingerprint(endpoint: str, values: dict) -> None:
    if endpoint in _ENDPOINTS and "filename" in values:
        folder = _folder(current_app, endpoint)
        if folder:
            values["filename"] = fingerprinted(folder, values["filename"])


def _serve(endpoint: str):
    def serve(filename: str):
        folder = _folder(current_app, endpoint)
        match = _FINGERPRINTED.match(filename)
        if match:
            real = match["stem"] + match["ext"]
            if file_hash(folder, real) == match["hash"]:
                response = send_from_directory(folder, real, max_age=ONE_YEAR)
                response.cache_control.public = True
                response.cache_control.immutable = True
                return response
            filename = real
        return send_from_directory(folder, filename, max_age=SHORT)

    return serve


# A deploy has a few hundred: the limit only bounds a prefix or key nobody expected.
_memo: Newest[tuple, str] = Newest(2048)


def _once(key: tuple, build, *args, **kwargs) -> str:
    """`build(*args, **kwargs)` once per process and `key` (a page's links and tags are the same
    for every request of a deploy)."""
    value = _memo.get(key)
    if value is None:
        value = build(*args, **kwargs)
        _memo.put(key, value)
    return value


def _prefix() -> str | None:
    """The path prefix the app is served under (None outside a request): what a memoised link
    depends on, since every app of this code has the same routes, files and tags."""
    return request.script_root if has_request_context() else None


def template_url_for(endpoint: str, **values) -> str:
    """Templates' `url_for`: a link with no arguments but a static file's name (the navigation,
    the stylesheets and scripts of every page) is built once per process and path prefix, not
    on every render; anything else is Flask's url_for. A page makes ~30 of these calls."""
    if (values and (len(values) > 1 or "filename" not in values)) or endpoint[:1] == ".":
        return url_for(endpoint, **values)
    if not has_request_context():
        return url_for(endpoint, **values)
    key = (request.script_root, endpoint, values.get("filename"))
    return _once(key, url_for, endpoint, **values)


def fragment(template: str, **key) -> Markup:
    """A piece of every page that depends on nothing but `key` and the deploy (its links, static
    files and tags): the head's links, the navigation for an audience and a page, the scripts.
    It is rendered from `key` alone — it cannot see the signed-in user, the request or the
    page's variables — once per process, path prefix and key, and then reused."""
    return _once((_prefix(), template, *sorted(key.items())), _render_fragment, template, key)


def _render_fragment(template: str, key: dict) -> Markup:
    env = current_app.jinja_env
    hidden = {name: env.undefined(name=name) for name in _NOT_FOR_FRAGMENTS}
    return Markup(env.get_template(template).render(**hidden, **key))


# Flask's template globals that belong to one request: a fragment must not read them.
_NOT_FOR_FRAGMENTS = ("request", "session", "g", "current_user")


def bootstrap_css() -> Markup:
    """Bootstrap-Flask's stylesheet tag, built once per process and path prefix."""
    return _once((_prefix(), "bootstrap_css"), _bootstrap_tags, "load_css")


def bootstrap_js() -> Markup:
    """Bootstrap-Flask's script tags, built once per process and path prefix."""
    return _once((_prefix(), "bootstrap_js"), _bootstrap_tags, "load_js")


def _bootstrap_tags(loader: str) -> Markup:
    return Markup(getattr(current_app.extensions["bootstrap"], loader)())


def init_app(app: Flask) -> None:
    app.url_defaults(_add_fingerprint)
    app.jinja_env.globals["url_for"] = template_url_for
    app.add_template_global(fragment)
    app.add_template_global(bootstrap_css)
    app.add_template_global(bootstrap_js)
    for endpoint in _ENDPOINTS:
        if endpoint in app.view_functions:
            app.view_functions[endpoint] = _serve(endpoint)
