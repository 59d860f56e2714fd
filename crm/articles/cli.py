"""`flask --app app seed-articles`: the coach's three demo articles (safe to run twice)."""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.accounts.models import Role, User
from crm.articles.demo_content import DEMO_ARTICLES
from crm.articles.models import Article, ArticleStatus
from crm.articles.services import save_article
from crm.time import utcnow
from extensions import db


def seed_demo_articles(session: Session) -> int:
    """Create the demo articles that do not exist yet (by slug); returns how many were made."""
    now = utcnow()
    author_id = session.scalar(select(User.id).where(User.role == Role.COACH).order_by(User.id))
    created = 0
    for demo in DEMO_ARTICLES:
        if session.scalar(select(Article.id).where(Article.slug == demo["slug"])):
            continue
        save_article(
            session,
            title=demo["title"],
            slug=demo["slug"],
            summary=demo["summary"],
            body=demo["body"],
            tags=demo["tags"],
            status=ArticleStatus.PUBLISHED,
            published_at=now - timedelta(days=demo["days_ago"]),
            author_id=author_id,
            now=now,
        )
        created += 1
    return created


@click.command("seed-articles")
@with_appcontext
def seed_articles() -> None:
    """Publish the coach's three demo articles (skips those already there)."""
    created = seed_demo_articles(db.session)
    click.echo(f"{created} demo articles created.")
