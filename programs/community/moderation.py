"""The coach's moderation: weekly threads, hiding, pinning, deleting, muting, and what she
reviews. Each action commits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.accounts.models import Role, User
from crm.articles import images
from crm.time import utcnow
from programs.community.members import client_ids, display_names, member_settings, require_coach
from programs.community.models import Comment, CommunityMember, Post, PostKind, Report
from programs.community.rules import LIMITS, PHOTO_BUCKET, CommunityError, NotFound, checked_text


def create_thread(session: Session, coach_id: int, title: str, body: str = "") -> Post:
    """A pinned weekly thread ("This week's wins"); the previous thread is unpinned. Commits."""
    require_coach(session, coach_id)
    title = checked_text(title, LIMITS["title"], "title", "Give the thread a title.")
    body = (body or "").strip()
    if len(body) > LIMITS["body"]:
        raise CommunityError(f"Keep it under {LIMITS['body']} characters.", "body")
    for old in session.scalars(
        select(Post).where(Post.kind == PostKind.THREAD, Post.pinned.is_(True))
    ):
        old.pinned = False
    post = Post(author_id=coach_id, kind=PostKind.THREAD, title=title, body=body, pinned=True)
    session.add(post)
    session.commit()
    return post


WELCOME_TITLE = "Welcome to the community!"
WELCOME_BODY = (
    "I'm so glad you're here. This is our private corner for sharing the small wins that add up "
    "to a 5K: the first run without walking, a knee that stayed quiet on the stairs, a hip "
    "routine done on a busy day. Tell us how today's session felt, cheer each other on, and ask "
    "questions. Anything that hurts, log it with your workout too so I see it on your plan. "
    "— Coach Ali"
)


def ensure_welcome_post(session: Session) -> Post | None:
    """A pinned welcome from the coach when the community has nothing to read yet, so the first
    member to join does not land on an empty feed. Returns the new post, else None. Commits."""
    if session.scalar(select(Post.id).where(Post.hidden_at.is_(None)).limit(1)) is not None:
        return None
    coach_id = session.scalar(
        select(User.id).where(User.role == Role.COACH, User.active.is_(True)).order_by(User.id)
    )
    if coach_id is None:
        return None
    post = Post(
        author_id=coach_id,
        kind=PostKind.THREAD,
        title=WELCOME_TITLE,
        body=WELCOME_BODY,
        pinned=True,
    )
    session.add(post)
    session.commit()
    return post


def _coach_post(session: Session, coach_id: int, post_id: int) -> Post:
    require_coach(session, coach_id)
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound("There is no such post.")
    return post


def set_hidden(session: Session, coach_id: int, post_id: int, hidden: bool) -> Post:
    """Hide (or show again) a post; hiding resolves its open reports. Commits."""
    post = _coach_post(session, coach_id, post_id)
    now = utcnow()
    post.hidden_at = now if hidden else None
    if hidden:
        for report in post.reports:
            report.resolved_at = report.resolved_at or now
    session.commit()
    return post


def set_pinned(session: Session, coach_id: int, post_id: int, pinned: bool) -> Post:
    post = _coach_post(session, coach_id, post_id)
    post.pinned = pinned
    session.commit()
    return post


def delete_post(session: Session, coach_id: int, post_id: int) -> None:
    """Delete a post with its comments, reactions, reports and photo. Commits."""
    post = _coach_post(session, coach_id, post_id)
    key = post.photo_key
    session.delete(post)
    session.commit()
    images.delete_image(PHOTO_BUCKET, key)


def hide_comment(session: Session, coach_id: int, comment_id: int) -> Comment:
    require_coach(session, coach_id)
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound("There is no such reply.")
    comment.hidden_at = utcnow()
    session.commit()
    return comment


def dismiss_reports(session: Session, coach_id: int, post_id: int) -> None:
    post = _coach_post(session, coach_id, post_id)
    now = utcnow()
    for report in post.reports:
        report.resolved_at = report.resolved_at or now
    session.commit()


def set_muted(session: Session, coach_id: int, user_id: int, muted: bool) -> CommunityMember:
    """Mute (she can read, not post, reply or react) or unmute a member. Commits."""
    require_coach(session, coach_id)
    user = session.get(User, user_id)
    if user is None or user.role != Role.RUNNER:
        raise NotFound("There is no such member.")
    member = member_settings(session, user_id)
    if member is None:
        member = CommunityMember(user_id=user_id, display_name=user.first_name or "A runner")
        session.add(member)
    member.muted_at = utcnow() if muted else None
    session.commit()
    return member


@dataclass
class Moderation:
    reported: list[tuple[Post, list[Report]]]
    hidden: list[Post]
    members: list[dict[str, Any]]
    names: dict[int, str]


def moderation(session: Session, coach_id: int) -> Moderation:
    """What the coach reviews: open reports, hidden posts, members (and former clients)."""
    require_coach(session, coach_id)
    open_reports = session.scalars(
        select(Report).where(Report.resolved_at.is_(None)).order_by(Report.id)
    ).all()
    grouped: dict[int, list[Report]] = {}
    for report in open_reports:
        grouped.setdefault(report.post_id, []).append(report)
    reported = [(session.get(Post, pid), reps) for pid, reps in grouped.items()]
    hidden = list(
        session.scalars(select(Post).where(Post.hidden_at.is_not(None)).order_by(Post.id.desc()))
    )
    clients = set(session.scalars(client_ids()))
    post_counts = dict(
        session.execute(select(Post.author_id, func.count()).group_by(Post.author_id)).all()
    )
    runner_ids = (
        clients
        | set(session.scalars(select(CommunityMember.user_id)))
        | {uid for uid in post_counts}
    )
    runners = session.scalars(
        select(User).where(User.id.in_(runner_ids), User.role == Role.RUNNER).order_by(User.id)
    ).all()
    settings = {
        m.user_id: m
        for m in session.scalars(
            select(CommunityMember).where(CommunityMember.user_id.in_(runner_ids))
        )
    }
    members = [
        {
            "user": u,
            "settings": settings.get(u.id),
            "is_client": u.id in clients,
            "posts": post_counts.get(u.id, 0),
        }
        for u in runners
    ]
    authors = {p.author_id for p, _ in reported} | {p.author_id for p in hidden}
    authors |= {r.reporter_id for _, reps in reported for r in reps}
    return Moderation(reported, hidden, members, display_names(session, authors | runner_ids))
