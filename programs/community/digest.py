"""The community's weekly digest email."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from crm.accounts.models import User
from crm.time import utcnow
from programs.community.feed import visible_authors
from programs.community.members import client_ids, display_names
from programs.community.models import CommunityMember, Post, PostKind
from programs.community.rules import MILESTONES, page_url
from tasks.outbox import queue_email


def send_weekly_digest(session: Session, now: datetime | None = None) -> int:
    """Queue this week's community digest to every client who wants it (marketing: the outbox
    checks consent and unsubscribes). Safe to run twice a week: one email per member and ISO
    week. Returns how many were queued. Commits."""
    now = now or utcnow()
    since = now - timedelta(days=7)
    year, week, _ = now.isocalendar()
    visible = (
        select(Post)
        .where(Post.hidden_at.is_(None), visible_authors(), Post.created_at >= since)
        .options(selectinload(Post.comments), selectinload(Post.reactions))
    )
    posts = list(session.scalars(visible))
    if not posts:
        return 0
    posts.sort(key=lambda p: (len(p.reactions) + len(p.comments), p.id), reverse=True)
    names = display_names(session, {p.author_id for p in posts})
    highlights = [
        {
            "author": names[p.author_id],
            "text": (p.title or p.body or f"{MILESTONES.get(p.milestone, '')}")[:200],
            "milestone": MILESTONES.get(p.milestone, ""),
            "reactions": len(p.reactions),
            "comments": len(p.comments),
            "url": page_url(f"/community/posts/{p.id}"),
        }
        for p in posts[:5]
    ]
    thread = session.scalar(
        select(Post)
        .where(Post.kind == PostKind.THREAD, Post.pinned.is_(True), Post.hidden_at.is_(None))
        .order_by(Post.id.desc())
    )
    recipients = session.scalars(
        select(User)
        .outerjoin(CommunityMember, CommunityMember.user_id == User.id)
        .where(
            User.id.in_(client_ids()),
            or_(CommunityMember.user_id.is_(None), CommunityMember.weekly_digest.is_(True)),
            or_(CommunityMember.user_id.is_(None), CommunityMember.muted_at.is_(None)),
        )
        .order_by(User.id)
    ).all()
    queued = 0
    for user in recipients:
        row = queue_email(
            session,
            to=user.email,
            template="community_digest",
            context={
                "first_name": user.first_name,
                "post_count": len(posts),
                "milestone_count": sum(1 for p in posts if p.kind == PostKind.MILESTONE),
                "highlights": highlights,
                "thread_title": thread.title if thread else "",
                "thread_url": page_url(f"/community/posts/{thread.id}") if thread else "",
                "feed_url": page_url("/community"),
                "settings_url": page_url("/community/profile"),
            },
            idempotency_key=f"community-digest:{user.id}:{year}-W{week:02d}",
            user_id=user.id,
            category="marketing",
            condition=f"community_member:{user.id}",  # not if her access ends before it goes
        )
        queued += row is not None
    session.commit()
    return queued
