"""Articles: writing, publishing, listing, and which article brought which call and client.

Service functions take a session and plain values, validate, own the commit and raise
ArticleError with per-field messages the form shows.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Integer,
    String,
    case,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.articles import images
from crm.articles.models import Article, ArticleStatus, BookingAttribution
from crm.articles.render import normalise_newlines, parse_video, unknown_exercises
from crm.billing.models import Enrolment
from crm.booking.models import Booking
from crm.leads.models import Lead, Stage
from crm.leads.services import coach_timezone, record_event
from crm.site.caching import forget
from crm.time import utcnow, zone

COVER_BUCKET = "articles"
VERSION_CACHE = "articles"  # the public pages' content version, cached per process
PER_PAGE = 10
LIMITS = {"title": 200, "slug": 120, "summary": 400, "body": 100_000, "tags": 400, "video_url": 300}
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TAG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_TAGS = 8
TOUCH_PREFIX = "article:"
STORAGE_DOWN = "The picture could not be stored just now, so nothing was saved. Please try again."


class ArticleError(ValueError):
    """Invalid article input: `errors` maps a field name to what to fix."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[: LIMITS["slug"]].rstrip("-")


def parse_tags(raw: str) -> list[str]:
    """'Knee pain, strength' → ['knee-pain', 'strength'] (deduplicated, order kept)."""
    tags: list[str] = []
    for part in (raw or "").split(","):
        tag = slugify(part)[:40].rstrip("-")
        if tag and tag not in tags:
            tags.append(tag)
    return tags


# --- writing ---------------------------------------------------------------------------------


def save_article(
    session: Session,
    *,
    article_id: int | None = None,
    title: str,
    body: str,
    slug: str = "",
    summary: str = "",
    tags: str = "",
    status: str = ArticleStatus.DRAFT,
    published_at: datetime | None = None,
    video_url: str = "",
    cover: bytes | None = None,
    remove_cover: bool = False,
    author_id: int | None = None,
    now: datetime | None = None,
) -> Article:
    """Create (article_id None) or update an article and commit.

    A naive `published_at` is the coach's local time. Publishing without a date publishes now.
    `cover` is the raw upload: it is checked, re-encoded and stored only if everything is valid.
    Raises ArticleError (field → message; also when the picture store is down, with nothing
    saved); LookupError for an unknown article_id.
    """
    now = now or utcnow()
    article = None
    if article_id is not None:
        article = session.get(Article, article_id)
        if article is None:
            raise LookupError("There is no such article.")
    title, summary = (title or "").strip(), (summary or "").strip()
    body = normalise_newlines(body)
    slug = (slug or "").strip().lower() or slugify(title)
    video_url = (video_url or "").strip()
    tag_list = parse_tags(tags)
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "Give the article a title."
    for field, value in (("title", title), ("summary", summary), ("body", body),
                         ("video_url", video_url)):  # fmt: skip
        if len(value) > LIMITS[field]:
            errors[field] = f"Keep this under {LIMITS[field]:,} characters."
    if not slug or not SLUG.match(slug) or len(slug) > LIMITS["slug"]:
        errors["slug"] = "Use lower-case letters, digits and dashes, e.g. run-without-walking."
    elif _slug_taken(session, slug, article_id):
        errors["slug"] = "Another article already uses this web address."
    if len(tag_list) > MAX_TAGS:
        errors["tags"] = f"Use at most {MAX_TAGS} tags."
    elif len(",".join(tag_list)) + 2 > LIMITS["tags"]:
        errors["tags"] = "These tags are too long."
    if video_url and parse_video(video_url) is None:
        errors["video_url"] = "Paste a YouTube or Vimeo link (or leave it empty)."
    missing = unknown_exercises(body)
    if missing:
        errors["body"] = "No exercise with id " + ", ".join(repr(m) for m in missing) + "."
    try:
        status = ArticleStatus(status)
    except ValueError:
        errors["status"] = "Choose draft or published."
    when = None
    if published_at is not None:
        when = published_at
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone(coach_timezone(session)))
        when = when.astimezone(zone("UTC"))
    cover_bytes = None
    if cover and not errors:
        try:
            cover_bytes = images.process_image(cover)
        except images.ImageRejected as exc:
            errors["cover"] = str(exc)
    if errors:
        raise ArticleError(errors)
    new_key = None
    if cover_bytes:
        # Stored before anything changes, so a store that is down leaves no half-saved article.
        try:
            new_key = images.store_image(COVER_BUCKET, cover_bytes)
        except images.StorageUnavailable as exc:
            raise ArticleError({"cover": STORAGE_DOWN}) from exc

    if article is None:
        article = Article(author_id=author_id, created_at=now)
        session.add(article)
    old_cover = article.cover_key
    article.title, article.slug, article.summary, article.body = title, slug, summary, body
    article.tags_text = f",{','.join(tag_list)}," if tag_list else ""
    article.video_url = video_url
    article.status = status
    if status == ArticleStatus.PUBLISHED:
        article.published_at = when or article.published_at or now
    else:
        article.published_at = when
    if new_key:
        article.cover_key = new_key
    elif remove_cover:
        article.cover_key = ""
    article.updated_at = now
    try:
        session.commit()
    except Exception as exc:
        session.rollback()
        if new_key:  # the new picture belongs to nothing now
            images.delete_image(COVER_BUCKET, new_key)
        if isinstance(exc, IntegrityError):  # the same slug saved concurrently
            raise ArticleError({"slug": "Another article already uses this web address."}) from exc
        raise
    forget(VERSION_CACHE)
    if old_cover and old_cover != article.cover_key:
        images.delete_image(COVER_BUCKET, old_cover)
    return article


def _slug_taken(session: Session, slug: str, article_id: int | None) -> bool:
    query = select(Article.id).where(Article.slug == slug)
    if article_id is not None:
        query = query.where(Article.id != article_id)
    return session.scalar(query) is not None


def delete_article(session: Session, article_id: int) -> None:
    """Delete an article and its cover. Its booking attributions keep the slug they recorded."""
    article = session.get(Article, article_id)
    if article is None:
        return
    key = article.cover_key
    session.delete(article)
    session.commit()
    forget(VERSION_CACHE)
    images.delete_image(COVER_BUCKET, key)


# --- reading ---------------------------------------------------------------------------------


def _live(now: datetime):
    return (Article.status == ArticleStatus.PUBLISHED) & (Article.published_at <= now)


def content_version(session: Session, now: datetime | None = None) -> str:
    """Changes whenever a public article page, the feed or the sitemap would: how many articles
    are live (a scheduled one going out, one deleted or unpublished), the newest edit and the
    newest publication among them. One aggregate over the published index."""
    count, edited, published = session.execute(
        select(func.count(), func.max(Article.updated_at), func.max(Article.published_at)).where(
            _live(now or utcnow())
        )
    ).one()
    return f"{count}:{edited}:{published}"


@dataclass(frozen=True)
class LiveArticle:
    """A published article as the public pages show it: a plain copy, not a database row, so
    a process can keep it between requests (see `live_articles`)."""

    id: int
    slug: str
    title: str
    summary: str
    body: str
    tags: tuple[str, ...]
    published_at: datetime
    updated_at: datetime
    video_url: str
    cover_key: str
    status: ArticleStatus = ArticleStatus.PUBLISHED

    @classmethod
    def of(cls, article: Article) -> LiveArticle:
        return cls(
            id=article.id, slug=article.slug, title=article.title, summary=article.summary,
            body=article.body, tags=tuple(article.tags), published_at=article.published_at,
            updated_at=article.updated_at, video_url=article.video_url,
            cover_key=article.cover_key,
        )  # fmt: skip


_kept: dict[str, tuple[str, tuple[LiveArticle, ...]]] = {}  # database URL: (version, articles)


def live_articles(
    session: Session, version: str | None = None, now: datetime | None = None
) -> tuple[LiveArticle, ...]:
    """Every live article, newest first, in one query. With `version` (the caller's
    `content_version`), the process keeps them until the version changes: the public pages then
    read them without a query."""
    key = str(session.get_bind().url)
    kept = _kept.get(key)
    if version is not None and kept is not None and kept[0] == version:
        return kept[1]
    query = select(Article).where(_live(now or utcnow()))
    rows = session.scalars(query.order_by(Article.published_at.desc(), Article.id.desc()))
    articles = tuple(LiveArticle.of(a) for a in rows)
    if version is not None:
        _kept[key] = (version, articles)
    return articles


@dataclass
class ArticlePage:
    items: list[LiveArticle]
    page: int
    pages: int
    total: int
    tag: str | None


def list_published(
    articles: tuple[LiveArticle, ...],
    *,
    tag: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> ArticlePage:
    """One page of `articles` (live_articles), optionally those with a tag; pages start at 1."""
    chosen = [a for a in articles if tag in a.tags] if tag else list(articles)
    total = len(chosen)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    return ArticlePage(chosen[(page - 1) * per_page : page * per_page], page, pages, total, tag)


def published_article(articles: tuple[LiveArticle, ...], slug: str) -> LiveArticle | None:
    return next((a for a in articles if a.slug == slug), None)


def article_by_slug(session: Session, slug: str) -> Article | None:
    """Any article (draft or published) by its slug: for the coach's own look at a draft."""
    return session.scalar(select(Article).where(Article.slug == slug))


def tag_counts(articles: tuple[LiveArticle, ...]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for article in articles:
        for tag in article.tags:
            counts[tag] = counts.get(tag, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def coach_articles(session: Session) -> list[Article]:
    return list(session.scalars(select(Article).order_by(Article.updated_at.desc(), Article.id)))


def related(articles: tuple[LiveArticle, ...], article, limit: int = 3) -> list[LiveArticle]:
    """Other live articles, those sharing a tag first."""
    others = [a for a in articles if a.id != article.id]
    shared = set(article.tags)
    others.sort(key=lambda a: -len(shared & set(a.tags)))
    return others[:limit]


# --- attribution -----------------------------------------------------------------------------


def record_booking_attribution(
    session: Session,
    booking_id: int,
    *,
    first_touch: str = "",
    last_touch: str = "",
    utm: dict[str, str] | None = None,
) -> BookingAttribution | None:
    """Store which articles led to a booking (idempotent per booking) and note it on the lead's
    timeline. A CTA link (utm_source=article, utm_campaign=<slug>) counts as the last touch,
    since clicking it is the visitor's latest step. Returns None when nothing points to an
    article or the booking does not exist. Commits."""
    utm = utm or {}
    if utm.get("utm_source") == "article" and utm.get("utm_campaign"):
        last_touch = f"{TOUCH_PREFIX}{slugify(utm['utm_campaign'])}"
        first_touch = first_touch or last_touch
    first_touch, last_touch = first_touch[:140], last_touch[:140]
    if not (first_touch.startswith(TOUCH_PREFIX) or last_touch.startswith(TOUCH_PREFIX)):
        return None
    booking = session.get(Booking, booking_id)
    if booking is None:
        return None
    existing = session.scalar(
        select(BookingAttribution).where(BookingAttribution.booking_id == booking_id)
    )
    if existing is not None:
        return existing
    row = BookingAttribution(
        booking_id=booking.id,
        lead_id=booking.lead_id,
        first_touch=first_touch,
        last_touch=last_touch,
    )
    session.add(row)
    record_event(
        session,
        booking.lead,
        "attribution",
        f"Booked after reading {last_touch.removeprefix(TOUCH_PREFIX) or '?'}"
        f" (first: {first_touch.removeprefix(TOUCH_PREFIX) or '?'})",
        {"booking_id": booking.id, "first_touch": first_touch, "last_touch": last_touch},
    )
    try:
        session.commit()
    except IntegrityError:  # recorded concurrently for the same booking
        session.rollback()
        return session.scalar(
            select(BookingAttribution).where(BookingAttribution.booking_id == booking_id)
        )
    return row


@cache  # built once per process: building it costs more than running it
def _attribution_statement() -> CompoundSelect:
    """In one statement: per article touch ("last" or "first", touch, calls booked, distinct
    leads among them who enrolled), counted in the database rather than row by row; then
    ("article", slug, 0, 0, id, title) for each article that is published or was touched."""
    enrolled = or_(
        Lead.stage == Stage.ENROLLED,
        exists().where(Enrolment.lead_id == BookingAttribution.lead_id),
    )
    client = func.count(distinct(case((enrolled, BookingAttribution.lead_id))))
    no_id, no_title = literal(None, Integer), literal(None, String)

    def by(kind: str, column):
        return (
            select(literal(kind), column, func.count(), client, no_id, no_title)
            .join(Lead, Lead.id == BookingAttribution.lead_id)
            .where(column.startswith(TOUCH_PREFIX, autoescape=True))
            .group_by(column)
        )

    touch = literal(TOUCH_PREFIX) + Article.slug
    touched = exists().where(
        or_(BookingAttribution.last_touch == touch, BookingAttribution.first_touch == touch)
    )
    articles = select(
        literal("article"), Article.slug, literal(0), literal(0), Article.id, Article.title
    ).where(or_(Article.status == ArticleStatus.PUBLISHED, touched))
    return union_all(
        by("last", BookingAttribution.last_touch),
        by("first", BookingAttribution.first_touch),
        articles,
    )


def articles_attribution(session: Session) -> list[dict[str, Any]]:
    """Per article: calls booked and clients enrolled, by last touch and by first touch.

    Each dict: slug, title, article_id (None once deleted), calls_booked, clients_enrolled,
    first_touch_calls, first_touch_clients. Articles with no bookings yet are listed (zeros)
    when published; rows are sorted by calls booked, most first."""
    stats: dict[str, dict[str, int]] = {}
    articles: dict[str, tuple[int, str]] = {}
    for kind, key, calls, clients, article_id, title in session.execute(_attribution_statement()):
        if kind == "article":
            articles[key] = (article_id, title)
            continue
        e = stats.setdefault(
            key.removeprefix(TOUCH_PREFIX),
            {"calls": 0, "first_calls": 0, "clients": 0, "first_clients": 0},
        )
        e["calls" if kind == "last" else "first_calls"] = calls
        e["clients" if kind == "last" else "first_clients"] = clients
    result = []
    for slug in sorted(set(stats) | set(articles)):
        e = stats.get(slug) or {"calls": 0, "first_calls": 0, "clients": 0, "first_clients": 0}
        article_id, title = articles.get(slug) or (None, slug)
        result.append(
            {
                "slug": slug,
                "title": title,
                "article_id": article_id,
                "calls_booked": e["calls"],
                "clients_enrolled": e["clients"],
                "first_touch_calls": e["first_calls"],
                "first_touch_clients": e["first_clients"],
            }
        )
    result.sort(key=lambda r: (-r["calls_booked"], -r["first_touch_calls"], r["title"]))
    return result
