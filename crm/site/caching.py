"""Responses a shared cache (nginx, a CDN) may keep: the public pages, for anonymous visitors.

A view marked `@public(version)` answers an anonymous visitor — a request with neither the
session cookie nor the remember-me cookie — with `Cache-Control: public, max-age=0,
s-maxage=…, stale-while-revalidate=…`, a strong ETag and no Set-Cookie; a revalidation whose
If-None-Match still matches gets `304 Not Modified` before the view runs. `version(**view_args)`
names the content's version cheaply (a few per-process-cached values, see `ttl_cached`); without
one, the ETag is the rendered body's hash (still a 304, but after the render). The deploy's
templates and static files are part of every ETag, so a new release is a new version.

Each process also keeps, for VERSION_TTL seconds, what it last sent an anonymous visitor for a
public URL: the next anonymous visitor gets the same 200 (or a 304) from memory, before Flask
(`RevalidationShortcut`). A crowd on one article costs one render per process every few seconds.

Anything else is private: a signed-in visitor, or a request whose session the page changed (a
flash, a CSRF token), gets `Cache-Control: private, no-store`. `Vary: Cookie` is sent where the
page reads the session (the HTML pages, whose navigation differs for a signed-in visitor);
flask-compress adds `Vary: Accept-Encoding`. The feed and the sitemap vary on nothing else.

Forms on public pages carry no CSRF token in the cached HTML (one token would be shared by every
reader): `form_csrf_token()` leaves the field empty for a cacheable request, and
static/js/form-token.js fetches a token from `/form-token` (no-store) when the visitor starts
the form; that response is the first to set her session cookie.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request, request_finished, session
from flask_wtf.csrf import generate_csrf

S_MAXAGE = 60  # seconds a shared cache serves a page without asking
STALE_WHILE_REVALIDATE = 600  # …and then serves it stale while it asks in the background
STALE_IF_ERROR = 86400  # …or while the app is down
VERSION_TTL = 5.0  # seconds a process trusts a cached content version (see ttl_cached)

# Kept in the WSGI environ, which is the request's own (tests reuse one app context, so `g`).
_PUBLIC, _ETAG, _COPY = "hero.public", "hero.etag", "hero.copy"
_ALGORITHMS = ("br", "gzip", "deflate", "zstd")
_cache: dict[tuple[str, str], tuple[float, Any]] = {}
_clock = time.monotonic
_build: dict[str, str] = {}


# --- what a response may be --------------------------------------------------------------------


def is_anonymous_request() -> bool:
    """A GET or HEAD carrying neither the session nor the remember-me cookie nor a bearer token:
    nobody is signed in and no session state (flashes, CSRF tokens) can show in the page."""
    if request.method not in ("GET", "HEAD") or "Authorization" in request.headers:
        return False
    cookies = request.cookies
    config = current_app.config
    return (
        config.get("SESSION_COOKIE_NAME", "session") not in cookies
        and config.get("REMEMBER_COOKIE_NAME", "remember_token") not in cookies
    )


def form_csrf_token() -> str:
    """The CSRF token for a form on a public page: empty in a page a shared cache may keep (the
    visitor's browser fetches her own from /form-token), else the session's token."""
    if _PUBLIC in request.environ and is_anonymous_request():
        return ""
    return generate_csrf()


# --- versions ------------------------------------------------------------------------------------


def build_id(app: Flask | None = None) -> str:
    """A hash of this deploy's templates and static files: part of every public ETag."""
    app = app or current_app
    key = app.import_name
    if key not in _build:
        digest = hashlib.blake2b(digest_size=8)
        roots = [Path(app.root_path) / (app.template_folder or "templates")]
        if app.static_folder:
            roots.append(Path(app.static_folder))
        for root in roots:
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
        _build[key] = digest.hexdigest()
    return _build[key]


def ttl_cached(name: str, compute: Callable[[], Any], ttl: float = VERSION_TTL) -> Any:
    """`compute()`, kept by this process for `ttl` seconds (per database): a content version a
    busy page can check on every request without a round trip. `forget()` after a write."""
    key = (str(current_app.config.get("SQLALCHEMY_DATABASE_URI", "")), name)
    now = _clock()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = compute()
    _cache[key] = (now + ttl, value)
    return value


def forget(name: str | None = None) -> None:
    """Drop this process's cached versions (all, or `name`'s) after a write; other processes
    catch up within VERSION_TTL."""
    for key in [k for k in _cache if name is None or k[1] == name]:
        _cache.pop(key, None)
    for shortcut in _shortcuts:
        shortcut.forget()


def _etag(version: str) -> str:
    raw = f"{build_id()}:{version}".encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def _matches(etag: str) -> bool:
    """If-None-Match names this version, plain or as flask-compress tags its encodings."""
    inm = request.if_none_match
    if not inm:
        return False
    return inm.contains(etag) or any(inm.contains(f"{etag}:{a}") for a in _ALGORITHMS)


# --- the decorator and the hook ------------------------------------------------------------------


def public(
    version: Callable[..., str | None] | None = None,
    *,
    vary_cookie: bool = True,
    s_maxage: int = S_MAXAGE,
    stale_while_revalidate: int = STALE_WHILE_REVALIDATE,
):
    """Mark a view's anonymous responses cacheable by shared caches (see the module docstring).

    `version(**view_args)` returns a string that changes whenever the page would (None: unknown,
    the body's hash is used); `vary_cookie=False` for responses that never read the session."""

    def decorator(view):
        @wraps(view)
        def wrapper(**kwargs):
            environ = request.environ
            environ[_PUBLIC] = (s_maxage, stale_while_revalidate, vary_cookie)
            if version is not None and is_anonymous_request():
                current = version(**kwargs)
                if current is not None:
                    environ[_ETAG] = etag = _etag(current)
                    if _matches(etag):
                        return _not_modified(etag)
            return view(**kwargs)

        return wrapper

    return decorator


class RevalidationShortcut:
    """WSGI middleware in front of Flask for anonymous GETs of the public pages. For VERSION_TTL
    seconds after the app rendered a page, this process answers the same URL itself, without
    entering Flask (its hooks, the access log, the session):

    - a revalidation whose If-None-Match names the page's ETag gets its `304 Not Modified`;
    - any other request gets the 200 the app rendered (the same bytes: the same encoding, chosen
      by the same Accept-Encoding header, and the same headers but the request id). A visitor
      who asks for a fresh copy (`Cache-Control: no-cache`, a hard reload) gets a new render.

    It is the answer `@public` would give, from the same per-process knowledge: the page's
    content version is itself trusted for VERSION_TTL (see `ttl_cached`), and a shared cache in
    front keeps the page for S_MAXAGE anyway. A write handled by this process (any successful
    request that is not a GET or HEAD) and `forget()` drop what it keeps; another process's write
    shows here within VERSION_TTL. Both tables are bounded (query strings are the visitor's)."""

    MAX_PAGES = 1024  # URLs with a known ETag
    MAX_COPIES = 256  # rendered bodies (a URL per Accept-Encoding header)
    MAX_BODY = 512 * 1024

    def __init__(self, wsgi_app, cookies: tuple[str, ...] = ("session", "remember_token")) -> None:
        self.wsgi_app = wsgi_app
        # The cookies that mean someone may be signed in: such a request never gets a copy.
        names = "|".join(re.escape(name) for name in cookies)
        self.signed_in = re.compile(rf"(?:^|;)\s*(?:{names})=")
        self.issued: dict[str, tuple[float, str, list[tuple[str, str]]]] = {}
        self.copies: dict[tuple[str, str], tuple[float, str, list[tuple[str, str]], bytes]] = {}

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "HEAD"):
            return self._write(environ, start_response)
        if "HTTP_AUTHORIZATION" in environ or self.signed_in.search(environ.get("HTTP_COOKIE", "")):
            return self.wsgi_app(environ, start_response)
        key, now = _key(environ), _clock()
        hit = self.issued.get(key)
        if hit is not None and hit[0] > now:
            inm = environ.get("HTTP_IF_NONE_MATCH")
            if inm and _listed(inm, hit[1]):
                start_response("304 Not Modified", hit[2])
                return [b""]
        if _wants_fresh(environ):
            return self.wsgi_app(environ, start_response)
        copy_key = (key, environ.get("HTTP_ACCEPT_ENCODING", ""))
        copy = self.copies.get(copy_key)
        if copy is not None and copy[0] > now:
            start_response(copy[1], copy[2])
            return [copy[3] if method == "GET" else b""]
        if method == "HEAD":
            return self.wsgi_app(environ, start_response)
        return self._render(environ, start_response, copy_key)

    def _render(self, environ, start_response, copy_key):
        seen: list = []

        def capture(status, headers, exc_info=None):
            seen[:] = [status, headers]
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, capture)
        if not environ.get(_COPY) or not seen or not seen[0].startswith("200"):
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        if len(body) <= self.MAX_BODY:
            headers = [(k, v) for k, v in seen[1] if k.lower() not in _NOT_KEPT]
            _bounded_put(
                self.copies, copy_key, (_clock() + VERSION_TTL, seen[0], headers, body),
                self.MAX_COPIES,
            )  # fmt: skip
        return [body]

    def _write(self, environ, start_response):
        seen: list = []

        def capture(status, headers, exc_info=None):
            seen[:] = [status]
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, capture)
        if environ.get("REQUEST_METHOD") != "OPTIONS" and seen and seen[0][:1] in "23":
            self.forget()  # this process's copies may show what the write changed
        return result

    def remember(self, response: Response) -> None:
        etag = response.get_etag()[0]
        if etag is None:
            return
        vary = [v for v in response.vary if v.lower() != "accept-encoding"]
        headers = [
            ("Cache-Control", response.headers["Cache-Control"]),
            ("Vary", ", ".join([*vary, "Accept-Encoding"])),  # as flask-compress adds it
            ("ETag", f'"{etag}"'),
        ]
        entry = (_clock() + VERSION_TTL, etag, headers)
        _bounded_put(self.issued, _key(request.environ), entry, self.MAX_PAGES)
        if response.status_code == 200 and request.method == "GET":
            request.environ[_COPY] = True

    def forget(self) -> None:
        self.issued.clear()
        self.copies.clear()


_NO_CACHE = re.compile(r"no-cache|no-store|max-age=0(?!\d)", re.I)
_NOT_KEPT = frozenset({"x-request-id", "set-cookie", "date"})
_shortcuts: list[RevalidationShortcut] = []  # every app's in this process, for forget()


def _wants_fresh(environ) -> bool:
    """A hard reload (or any client asking the origin for a fresh copy)."""
    return bool(
        _NO_CACHE.search(environ.get("HTTP_CACHE_CONTROL", ""))
        or "no-cache" in environ.get("HTTP_PRAGMA", "")
    )


def _bounded_put(table: dict, key, value, limit: int) -> None:
    table.pop(key, None)
    while len(table) >= limit:
        table.pop(next(iter(table)))  # the oldest
    table[key] = value


def _key(environ) -> str:
    return f"{environ.get('PATH_INFO', '')}?{environ.get('QUERY_STRING', '')}"


def _listed(if_none_match: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")}
    return etag in tags or any(f"{etag}:{a}" in tags for a in _ALGORITHMS)


def _not_modified(etag: str) -> Response:
    response = Response(status=304)
    response.set_etag(etag)
    return response


def _cache_headers(response: Response) -> Response:
    spec = request.environ.get(_PUBLIC)
    if spec is None:
        return response
    s_maxage, swr, vary_cookie = spec
    if vary_cookie:
        response.vary.add("Cookie")
    user = g.get("_login_user")  # Flask-Login's, when the page asked who is there
    shareable = (
        is_anonymous_request()
        and response.status_code in (200, 304)
        and not session.modified
        and not (user is not None and user.is_authenticated)
    )
    if not shareable:
        response.headers["Cache-Control"] = "private, no-store"
        return response
    cc = response.cache_control
    cc.public = True
    cc.max_age = 0  # browsers revalidate (a cheap 304); shared caches keep it s-maxage
    cc.s_maxage = s_maxage
    cc["stale-while-revalidate"] = str(swr)
    cc["stale-if-error"] = str(STALE_IF_ERROR)
    if response.status_code != 304:
        etag = request.environ.get(_ETAG)
        if etag:
            response.set_etag(etag)
        elif not response.is_streamed:
            response.add_etag()  # the body's hash (the page has no cheap version)
        response = response.make_conditional(request)
    shortcut = current_app.extensions.get("hero_revalidation")
    if shortcut is not None:
        shortcut.remember(response)
    return response


def form_token():
    """A CSRF token for a public page's form, fetched by the browser as the visitor starts it:
    never cached, and the first response to set her session cookie."""
    response = jsonify(csrf_token=generate_csrf())
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _drop_vary_cookie(sender: Flask, response: Response, **_extra) -> None:
    # Flask adds `Vary: Cookie` whenever anything touched the session — Flask-Login's
    # after_request does on every request — so it is taken off, once the session is saved, from
    # the public responses that never read it (the feed, the sitemap).
    spec = request.environ.get(_PUBLIC)
    if spec is not None and not spec[2] and "Cookie" in response.vary:
        kept = [v for v in response.vary if v.lower() != "cookie"]
        response.headers["Vary"] = ", ".join(kept)
        if not kept:
            del response.headers["Vary"]


def init_app(app: Flask) -> None:
    cookies = (
        app.config.get("SESSION_COOKIE_NAME") or "session",
        app.config.get("REMEMBER_COOKIE_NAME") or "remember_token",
    )
    shortcut = RevalidationShortcut(app.wsgi_app, cookies)
    app.wsgi_app = shortcut
    app.extensions["hero_revalidation"] = shortcut
    _shortcuts.append(shortcut)
    app.after_request(_cache_headers)
    request_finished.connect(_drop_vary_cookie, app)
    app.add_template_global(form_csrf_token)
    app.add_url_rule("/form-token", "form_token", form_token, methods=["GET"])
