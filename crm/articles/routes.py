"""Articles: the public list, page, feed and sitemap; the coach's editor with a live preview."""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user

from crm.accounts.access import coach_required
from crm.articles import feeds, images, render, services
from crm.articles.forms import ArticleForm, DeleteForm
from crm.articles.models import Article
from crm.leads.services import coach_timezone
from crm.site.caching import public, ttl_cached
from crm.time import utcnow, zone
from extensions import db

bp = Blueprint("articles", __name__)


def cta_url(slug: str) -> str:
    """The booking link of an article's CTA, carrying the article as the campaign."""
    return url_for("booking.book", utm_source="article", utm_campaign=slug)


# --- public pages ----------------------------------------------------------------------------


def articles_version(**_view_args) -> str:
    """The public article pages' content version, checked without a round trip (see caching)."""
    return ttl_cached(services.VERSION_CACHE, lambda: services.content_version(db.session))


def live_articles() -> tuple[services.LiveArticle, ...]:
    """The live articles, kept by this process while their version stands."""
    return services.live_articles(db.session, articles_version())


@bp.get("/articles")
@public(articles_version)
def article_list():
    tag = services.slugify(request.args.get("tag", ""))[:40] or None
    page = request.args.get("page", "1")
    articles = live_articles()
    listing = services.list_published(articles, tag=tag, page=int(page) if page.isdigit() else 1)
    return render_template(
        "articles/list.html",
        listing=listing,
        tags=services.tag_counts(articles),
        canonical=feeds.absolute(
            "articles.article_list",
            **({"tag": tag} if tag else {}),
            **({"page": listing.page} if listing.page > 1 else {}),
        ),
    )


@bp.get("/articles/<slug>")
@public(articles_version)
def article(slug: str):
    articles = live_articles()
    item = services.published_article(articles, slug)
    draft = False
    if item is None:
        # The coach may look at her own draft or scheduled article before it goes out.
        if current_user.is_authenticated and current_user.is_coach:
            item = services.article_by_slug(db.session, slug)
            draft = item is not None
        if item is None:
            abort(404)
    booking_url = cta_url(item.slug)
    return render_template(
        "articles/article.html",
        article=item,
        draft=draft,
        body=render.render_body(render.without_closing_cta(item.body), booking_url=booking_url),
        booking_url=booking_url,
        video=render.parse_video(item.video_url),
        description=item.summary or render.plain_text(item.body, 160),
        minutes=render.reading_minutes(item.body),
        canonical=feeds.absolute("articles.article", slug=item.slug),
        cover_url=feeds.absolute("articles.cover", key=item.cover_key) if item.cover_key else "",
        related=services.related(articles, item),
    )


@bp.get("/articles/covers/<key>")
def cover(key: str):
    data = images.load_image(services.COVER_BUCKET, key)
    if data is None:
        abort(404)
    # A key names one picture for ever (a new upload gets a new key): it is a strong ETag.
    return send_file(io.BytesIO(data), mimetype="image/jpeg", max_age=86400 * 30, etag=key)


@bp.get("/articles/feed.xml")
@public(articles_version, vary_cookie=False)
def feed():
    articles = live_articles()[:30]
    updated = max((max(a.updated_at, a.published_at) for a in articles), default=utcnow())
    return Response(feeds.atom_feed(articles, updated), mimetype="application/atom+xml")


@bp.get("/sitemap.xml")
@public(articles_version, vary_cookie=False)
def sitemap():
    articles = live_articles()
    urls = [
        (feeds.absolute("site.landing"), None),
        (feeds.absolute("booking.book"), None),
        (feeds.absolute("articles.article_list"), articles[0].published_at if articles else None),
    ]
    urls += [
        (feeds.absolute("articles.article", slug=a.slug), max(a.updated_at, a.published_at))
        for a in articles
    ]
    return Response(feeds.sitemap(urls), mimetype="application/xml")


# --- the coach's editor ----------------------------------------------------------------------


@bp.get("/coach/articles")
@coach_required
def coach_list():
    return render_template(
        "articles/coach_list.html",
        articles=services.coach_articles(db.session),
        attribution={r["slug"]: r for r in services.articles_attribution(db.session)},
        tz_name=coach_timezone(db.session),
        delete_form=DeleteForm(),
        now=utcnow(),
    )


def _local(moment, tz_name: str):
    return moment.astimezone(zone(tz_name)).replace(tzinfo=None) if moment else None


def _save(form: ArticleForm, article: Article | None):
    """Validate and save the form; the saved article, or None with errors on the form."""
    if not form.validate_on_submit():
        return None
    upload = form.cover.data
    data = upload.read(images.MAX_UPLOAD_BYTES + 1) if upload and upload.filename else None
    try:
        return services.save_article(
            db.session,
            article_id=article.id if article else None,
            title=form.title.data,
            slug=form.slug.data or "",
            summary=form.summary.data or "",
            body=form.body.data or "",
            tags=form.tags.data or "",
            status=form.status.data,
            published_at=form.published_at.data,
            video_url=form.video_url.data or "",
            cover=data,
            remove_cover=bool(form.remove_cover.data),
            author_id=current_user.id,
        )
    except services.ArticleError as exc:
        for field, message in exc.errors.items():
            target = form._fields.get(field, form.body)
            target.errors = [*target.errors, message]
        return None


def _editor(form: ArticleForm, article: Article | None, status: int):
    return (
        render_template(
            "articles/edit.html",
            form=form,
            article=article,
            tz_name=coach_timezone(db.session),
            exercises=render.load_library().exercises,
        ),
        status,
    )


@bp.route("/coach/articles/new", methods=["GET", "POST"])
@coach_required
def new_article():
    form = ArticleForm()
    if request.method == "GET":
        form.body.data = "Write here.\n"
    saved = _save(form, None) if request.method == "POST" else None
    if saved is not None:
        flash(f"“{saved.title}” saved as {saved.status.value}.", "success")
        return redirect(url_for("articles.edit_article", article_id=saved.id))
    return _editor(form, None, 422 if request.method == "POST" else 200)


@bp.route("/coach/articles/<int:article_id>/edit", methods=["GET", "POST"])
@coach_required
def edit_article(article_id: int):
    article = db.get_or_404(Article, article_id)
    form = ArticleForm(obj=article) if request.method == "GET" else ArticleForm()
    if request.method == "GET":
        form.tags.data = ", ".join(article.tags)
        form.status.data = article.status.value
        form.published_at.data = _local(article.published_at, coach_timezone(db.session))
        return _editor(form, article, 200)
    saved = _save(form, article)
    if saved is not None:
        flash(f"“{saved.title}” saved as {saved.status.value}.", "success")
        return redirect(url_for("articles.edit_article", article_id=saved.id))
    return _editor(form, article, 422)


@bp.post("/coach/articles/<int:article_id>/delete")
@coach_required
def delete_article(article_id: int):
    article = db.get_or_404(Article, article_id)
    if DeleteForm().validate_on_submit():
        title = article.title
        services.delete_article(db.session, article.id)
        flash(f"“{title}” deleted.", "success")
    return redirect(url_for("articles.coach_list"))


@bp.post("/coach/articles/preview")
@coach_required
def preview():
    """The live preview: the Markdown the editor sends, rendered exactly as the page will."""
    body = request.form.get("body", "")[: services.LIMITS["body"]]
    slug = services.slugify(request.form.get("slug", "") or request.form.get("title", ""))
    html = render.render_body(body, booking_url=cta_url(slug or "preview"), preview=True)
    return jsonify(html=str(html), unknown_exercises=render.unknown_exercises(body))
