"""Markdown → safe HTML for articles, with the coach's two block directives.

Two layers keep stored XSS out: markdown-it runs with raw HTML off (a `<script>` she types is
shown as text) and refuses javascript:/vbscript:/data: links; nh3 then cleans the result against
an allowlist of tags, attributes and URL schemes. The directives `[[cta]]` and
`[[exercise:<id>]]`, each alone on its line, are cut out of the Markdown before rendering and
replaced by our own templates, so nothing the coach types ever becomes markup we did not write.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import nh3
from flask import current_app, render_template
from markdown_it import MarkdownIt
from markupsafe import Markup

from extensions import db

DIRECTIVE = re.compile(r"^[ \t]*\[\[(cta|exercise:([a-z0-9][a-z0-9-]{0,80}))\]\][ \t]*$", re.M)

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "s", "del", "code",
    "pre", "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


class ExerciseLibrary(Protocol):
    """The exercises an article can embed, by id and in order (programs' plan library is one)."""

    by_id: Mapping[str, Any]
    exercises: Sequence[Any]


@dataclass(frozen=True)
class _NoExercises:
    by_id: Mapping[str, Any] = field(default_factory=dict)
    exercises: Sequence[Any] = ()


def register_exercise_library(app, load) -> None:
    """`load(session)` returns the library article embeds come from (programs registers it, so
    the CRM needs nothing of the plans)."""
    app.extensions["article_exercise_library"] = load


def load_library() -> ExerciseLibrary:
    """The plan library as the coach has it: built-in plus her own active exercises."""
    load = current_app.extensions.get("article_exercise_library")
    return load(db.session) if load is not None else _NoExercises()


@cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": True})
    md.enable(["table", "strikethrough"])
    return md


def sanitise(html: str) -> str:
    """Clean HTML against the article allowlist (tags, attributes, http/https/mailto URLs)."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


@lru_cache(maxsize=256)
def markdown_to_html(text: str) -> str:
    """Markdown rendered and sanitised (no directives). A pure function of the text, so the
    process keeps the last few hundred results: a read article is not parsed again."""
    # Heading levels start at 2 on the page: the article title is the only h1.
    html = _markdown().render(text or "")
    html = re.sub(r"<(/?)h1>", r"<\1h2>", html)
    return sanitise(html)


def normalise_newlines(text: str | None) -> str:
    """Browsers send textarea contents with CRLF line breaks; the directives are line-based."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def exercise_ids(text: str) -> list[str]:
    return [m.group(2) for m in DIRECTIVE.finditer(normalise_newlines(text)) if m.group(2)]


def unknown_exercises(text: str) -> list[str]:
    """Exercise ids the body embeds that the plan library does not have."""
    library = load_library()
    return [ex_id for ex_id in exercise_ids(text) if ex_id not in library.by_id]


TRAILING_CTA = re.compile(r"(?:^[ \t]*\[\[cta\]\][ \t]*\s*)+\Z", re.M)


def without_closing_cta(text: str) -> str:
    """The body without [[cta]] lines at its very end: the article page closes with the box
    itself, so a body that also ends with one would show it twice."""
    return TRAILING_CTA.sub("", normalise_newlines(text).rstrip() + "\n")


def render_body(text: str, *, booking_url: str, preview: bool = False) -> Markup:
    """The article body as safe HTML, with CTA blocks and embedded exercises in place."""
    library = None  # read when the body embeds an exercise
    text = normalise_newlines(text)
    parts: list[str] = []
    position = 0
    for match in DIRECTIVE.finditer(text):
        parts.append(markdown_to_html(text[position : match.start()]))
        position = match.end()
        if match.group(1) == "cta":
            parts.append(render_template("articles/_cta.html", booking_url=booking_url))
        else:
            library = library or load_library()
            exercise = library.by_id.get(match.group(2))
            parts.append(
                render_template(
                    "articles/_exercise.html",
                    exercise=exercise,
                    exercise_id=match.group(2),
                    preview=preview,
                )
            )
    parts.append(markdown_to_html(text[position:]))
    return Markup("".join(parts))  # each part is sanitised or one of our own templates


def plain_text(text: str, limit: int = 300) -> str:
    """The body as plain text (for descriptions and feeds), cut at a word boundary."""
    html = markdown_to_html(DIRECTIVE.sub("", text or ""))
    words = nh3.clean(html, tags=set()).split()
    out = " ".join(words)
    if len(out) <= limit:
        return out
    return out[:limit].rsplit(" ", 1)[0] + "…"


def reading_minutes(text: str) -> int:
    return max(1, round(len((text or "").split()) / 200))


@dataclass(frozen=True)
class Video:
    provider: str  # "youtube" | "vimeo"
    video_id: str
    url: str

    @property
    def embed_url(self) -> str:
        # youtube-nocookie and Vimeo's dnt=1 set no tracking cookies until the video plays.
        if self.provider == "youtube":
            return f"https://www.youtube-nocookie.com/embed/{self.video_id}"
        return f"https://player.vimeo.com/video/{self.video_id}?dnt=1"

    @property
    def label(self) -> str:
        return "YouTube" if self.provider == "youtube" else "Vimeo"


YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "youtube-nocookie.com",
                 "www.youtube-nocookie.com"}  # fmt: skip
VIMEO_HOSTS = {"vimeo.com", "www.vimeo.com", "player.vimeo.com"}


def parse_video(url: str) -> Video | None:
    """A YouTube or Vimeo link as a Video, or None for anything else."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https"):
        return None
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    candidate = None
    if host == "youtu.be" and segments:
        candidate = segments[0]
    elif host in YOUTUBE_HOSTS:
        if segments[:1] == ["watch"]:
            candidate = (parse_qs(parts.query).get("v") or [""])[0]
        elif len(segments) >= 2 and segments[0] in ("embed", "shorts", "live", "v"):
            candidate = segments[1]
    if candidate is not None:
        return Video("youtube", candidate, url) if YOUTUBE_ID.match(candidate) else None
    if host in VIMEO_HOSTS:
        numeric = [s for s in segments if s.isdigit()]
        if numeric and len(numeric[-1]) <= 12:
            return Video("vimeo", numeric[-1], url)
    return None
