"""Community rules: who is a member, what each member may see and do, moderation, emails.

Members are the coach and every runner with an enrolment that gives access (active or past due,
crm.billing's Enrolment.has_access). A former client loses access at once; her posts and
comments are hidden from everyone but the coach, never deleted, until the coach deletes them.
Every service takes the acting user's id and checks it: a view never decides access itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from crm.accounts.models import Role, User
from crm.articles import images
from crm.billing.models import Enrolment, EnrolmentStatus
from crm.time import utcnow
from programs.community.models import (
    Comment,
    CommunityMember,
    Post,
    PostKind,
    Reaction,
    Report,
)

PHOTO_BUCKET = "community"
STORAGE_DOWN = "The photo could not be stored just now, so nothing was posted. Please try again."
LIMITS = {"body": 1000, "comment": 500, "display_name": 40, "reason": 300, "title": 120}
PER_PAGE = 20
# Words, not emoji: not every phone or browser font has the emoji, and words read to everyone.
REACTIONS = {"cheer": "Cheer", "heart": "Love", "strong": "Strong"}
MILESTONES = {
    "first_run": "ran for the first time in the plan",
    "continuous_10": "ran 10 minutes without walking",
    "continuous_20": "ran 20 minutes without walking",
    "continuous_30": "ran 30 minutes without walking",
    "race_finished": "finished her race",
}
# Milestones that happen once in a plan: sharing again returns the first post.
ONCE_ONLY = {"first_run", "continuous_10", "continuous_20", "continuous_30"}
ACCESS_STATUSES = (EnrolmentStatus.ACTIVE, EnrolmentStatus.PAST_DUE)


class CommunityError(ValueError):
    """A refused community action; `field` names the form field when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAMember(CommunityError):
    """The user may not use the community (not a client, or no longer one)."""


class NotFound(CommunityError):
    """No such post or comment — or one the user may not see (the same answer, on purpose)."""


# --- membership ------------------------------------------------------------------------------


def _client_ids():
    """A subquery of the ids of runners who are clients right now."""
    return (
        select(Enrolment.user_id)
        .join(User, User.id == Enrolment.user_id)
        .where(
            Enrolment.status.in_(ACCESS_STATUSES),
            User.role == Role.RUNNER,
            User.active.is_(True),
        )
    )


def _coach_ids():
    return select(User.id).where(User.role == Role.COACH)


def is_member(session: Session, user_id: int | None) -> bool:
    """True for the coach and for runners whose enrolment gives access."""
    if user_id is None:
        return False
    user = session.get(User, user_id)
    if user is None or not user.active:
        return False
    if user.role == Role.COACH:
        return True
    return session.scalar(_client_ids().where(Enrolment.user_id == user_id).limit(1)) is not None


def _require_member(session: Session, user_id: int) -> User:
    if not is_member(session, user_id):
        raise NotAMember("The community is for enrolled clients.")
    return session.get(User, user_id)


def _require_coach(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.role != Role.COACH or not user.active:
        raise NotAMember("Only the coach can do that.")
    return user


def member_settings(session: Session, user_id: int) -> CommunityMember | None:
    return session.get(CommunityMember, user_id)


def needs_display_name(session: Session, user_id: int) -> bool:
    """A runner chooses how others see her before she appears in the community."""
    user = session.get(User, user_id)
    if user is None or user.role != Role.RUNNER:
        return False
    return member_settings(session, user_id) is None


def save_settings(
    session: Session,
    user_id: int,
    *,
    display_name: str,
    notify_replies: bool = True,
    weekly_digest: bool = True,
) -> CommunityMember:
    """Set the member's display name and email choices. Commits."""
    _require_member(session, user_id)
    name = " ".join((display_name or "").split())
    if not name:
        raise CommunityError("Choose a name others will see.", "display_name")
    if len(name) > LIMITS["display_name"]:
        raise CommunityError(f"Keep it under {LIMITS['display_name']} characters.", "display_name")
    member = member_settings(session, user_id)
    if member is None:
        member = CommunityMember(user_id=user_id, display_name=name)
        session.add(member)
    member.display_name = name
    member.notify_replies = bool(notify_replies)
    member.weekly_digest = bool(weekly_digest)
    session.commit()
    return member


def display_names(session: Session, user_ids: set[int]) -> dict[int, str]:
    """What the community shows for each user: the chosen name; the coach as "Coach <first>"."""
    names: dict[int, str] = {}
    if not user_ids:
        return names
    chosen = dict(
        session.execute(
            select(CommunityMember.user_id, CommunityMember.display_name).where(
                CommunityMember.user_id.in_(user_ids)
            )
        ).all()
    )
    for user in session.scalars(select(User).where(User.id.in_(user_ids))):
        if user.role == Role.COACH:
            names[user.id] = chosen.get(user.id) or f"Coach {user.first_name or 'Ali'}".strip()
        else:
            names[user.id] = chosen.get(user.id) or "A runner"
    return names


def is_muted(session: Session, user_id: int) -> bool:
    member = member_settings(session, user_id)
    return member is not None and member.muted_at is not None


def _require_voice(session: Session, user_id: int) -> User:
    user = _require_member(session, user_id)
    if user.role == Role.RUNNER:
        if needs_display_name(session, user_id):
            raise CommunityError("Choose your display name first.", "display_name")
        if is_muted(session, user_id):
            raise CommunityError("The coach has paused your posting for now.")
    return user


# --- visibility ------------------------------------------------------------------------------


def _visible_authors():
    return or_(Post.author_id.in_(_client_ids()), Post.author_id.in_(_coach_ids()))


def _visible_posts(viewer: User):
    query = select(Post)
    if viewer.role != Role.COACH:
        query = query.where(Post.hidden_at.is_(None), _visible_authors())
    return query


def visible_post(session: Session, viewer_id: int, post_id: int) -> Post:
    """The post if this member may see it; NotFound otherwise (also for hidden posts and posts
    of former clients), NotAMember for a non-member."""
    viewer = _require_member(session, viewer_id)
    post = session.scalar(_visible_posts(viewer).where(Post.id == post_id))
    if post is None:
        raise NotFound("There is no such post.")
    return post


def visible_photo(session: Session, viewer_id: int, key: str) -> bytes:
    """The JPEG of a post's photo if the viewer may see that post; NotFound otherwise.
    Raises images.StorageUnavailable when the picture store cannot be read."""
    post_id = session.scalar(select(Post.id).where(Post.photo_key == key)) if key else None
    if post_id is None:
        raise NotFound("There is no such photo.")
    visible_post(session, viewer_id, post_id)
    data = images.load_image(PHOTO_BUCKET, key)
    if data is None:
        raise NotFound("There is no such photo.")
    return data


@dataclass
class PostView:
    post: Post
    author_name: str
    comments: list[Comment]
    reaction_counts: dict[str, int]
    my_reactions: set[str]
    author_is_client: bool = True
    open_reports: int = 0


@dataclass
class Feed:
    pinned: list[PostView]
    posts: list[PostView]
    next_before: int | None
    names: dict[int, str] = field(default_factory=dict)


def _views(session: Session, viewer: User, posts: list[Post]) -> list[PostView]:
    clients = set(session.scalars(_client_ids()))
    coaches = set(session.scalars(_coach_ids()))
    authors = {p.author_id for p in posts} | {c.author_id for p in posts for c in p.comments}
    names = display_names(session, authors)
    views = []
    for post in posts:
        counts: dict[str, int] = {}
        mine: set[str] = set()
        for r in post.reactions:
            counts[r.emoji] = counts.get(r.emoji, 0) + 1
            if r.user_id == viewer.id:
                mine.add(r.emoji)
        comments = (
            list(post.comments)
            if viewer.role == Role.COACH
            else [
                c
                for c in post.comments
                if c.hidden_at is None and (c.author_id in clients or c.author_id in coaches)
            ]
        )
        views.append(
            PostView(
                post=post,
                author_name=names.get(post.author_id, "A runner"),
                comments=comments,
                reaction_counts=counts,
                my_reactions=mine,
                author_is_client=post.author_id in clients or post.author_id in coaches,
                open_reports=sum(1 for r in post.reports if r.resolved_at is None),
            )
        )
    return views


def feed(session: Session, viewer_id: int, *, before: int | None = None) -> Feed:
    """The posts this member may see, pinned first, then newest first in pages of PER_PAGE
    (keyset: pass the last page's `next_before`)."""
    viewer = _require_member(session, viewer_id)
    base = _visible_posts(viewer).options(
        selectinload(Post.comments), selectinload(Post.reactions), selectinload(Post.reports)
    )
    pinned = (
        []
        if before
        else list(session.scalars(base.where(Post.pinned.is_(True)).order_by(Post.id.desc())))
    )
    query = base.where(Post.pinned.is_(False))
    if before:
        query = query.where(Post.id < before)
    posts = list(session.scalars(query.order_by(Post.id.desc()).limit(PER_PAGE + 1)))
    more = len(posts) > PER_PAGE
    posts = posts[:PER_PAGE]
    all_views = _views(session, viewer, pinned + posts)
    names = display_names(
        session, {v.post.author_id for v in all_views} | {c.author_id for v in all_views
                                                          for c in v.comments}
    )  # fmt: skip
    return Feed(
        pinned=all_views[: len(pinned)],
        posts=all_views[len(pinned) :],
        next_before=posts[-1].id if more and posts else None,
        names=names,
    )


def post_view(session: Session, viewer_id: int, post_id: int) -> tuple[PostView, dict[int, str]]:
    viewer = _require_member(session, viewer_id)
    post = visible_post(session, viewer_id, post_id)
    view = _views(session, viewer, [post])[0]
    names = display_names(session, {post.author_id} | {c.author_id for c in view.comments})
    return view, names


# --- writing ---------------------------------------------------------------------------------


def _text(value: str, limit: int, field_name: str, empty: str) -> str:
    text = (value or "").strip()
    if not text:
        raise CommunityError(empty, field_name)
    if len(text) > limit:
        raise CommunityError(f"Keep it under {limit} characters.", field_name)
    return text


def create_post(session: Session, author_id: int, body: str, photo: bytes | None = None) -> Post:
    """A member's post (text, optional photo re-encoded without metadata). Commits."""
    _require_voice(session, author_id)
    if photo:
        text = (body or "").strip()
        if len(text) > LIMITS["body"]:
            raise CommunityError(f"Keep it under {LIMITS['body']} characters.", "body")
    else:
        text = _text(body, LIMITS["body"], "body", "Write something, or add a photo.")
    key = ""
    if photo:
        try:
            key = images.store_image(PHOTO_BUCKET, images.process_image(photo, max_side=1280))
        except images.ImageRejected as exc:
            raise CommunityError(str(exc), "photo") from exc
        except images.StorageUnavailable as exc:
            raise CommunityError(STORAGE_DOWN, "photo") from exc
    post = Post(author_id=author_id, body=text, photo_key=key, kind=PostKind.POST)
    session.add(post)
    try:
        session.commit()
    except Exception:
        session.rollback()
        images.delete_image(PHOTO_BUCKET, key)
        raise
    return post


def share_milestone(session: Session, user_id: int, kind: str, text: str = "") -> Post:
    """Share a milestone from the runner's log in one click; `kind` is one of MILESTONES.
    A once-only milestone shared again returns the first post. Commits."""
    if kind not in MILESTONES:
        raise CommunityError("Unknown milestone.", "kind")
    if needs_display_name(session, user_id) and is_member(session, user_id):
        user = session.get(User, user_id)
        # One click means one click: a first-time sharer appears under her first name.
        save_settings(session, user_id, display_name=user.first_name or "A runner")
    _require_voice(session, user_id)
    if kind in ONCE_ONLY:
        existing = session.scalar(
            select(Post).where(Post.author_id == user_id, Post.milestone == kind)
        )
        if existing is not None:
            return existing
    note = (text or "").strip()
    if len(note) > LIMITS["body"]:
        raise CommunityError(f"Keep it under {LIMITS['body']} characters.", "text")
    post = Post(
        author_id=user_id,
        kind=PostKind.MILESTONE,
        milestone=kind,
        body=note,
    )
    session.add(post)
    session.commit()
    return post


def add_comment(session: Session, author_id: int, post_id: int, body: str) -> Comment:
    """Reply to a visible post; the post's author gets an email (her choice). Commits."""
    _require_voice(session, author_id)
    post = visible_post(session, author_id, post_id)
    text = _text(body, LIMITS["comment"], "body", "Write a reply first.")
    comment = Comment(post_id=post.id, author_id=author_id, body=text)
    session.add(comment)
    session.flush()
    if post.author_id != author_id:
        _queue_reply_email(session, post, comment)
    session.commit()
    return comment


def _url(path: str) -> str:
    # Emails are also built by Celery tasks, outside any request: paths are spelled out here and
    # must match the routes in programs/community/routes.py.
    return current_app.config["BASE_URL"] + path


def _queue_reply_email(session: Session, post: Post, comment: Comment) -> None:
    from tasks.outbox import queue_email

    member = member_settings(session, post.author_id)
    if member is not None and not member.notify_replies:
        return
    if not is_member(session, post.author_id):
        return  # a former client gets no community email
    author = session.get(User, post.author_id)
    names = display_names(session, {comment.author_id, post.author_id})
    queue_email(
        session,
        to=author.email,
        template="community_reply",
        context={
            "first_name": author.first_name,
            "replier": names[comment.author_id],
            "reply": comment.body,
            "post_excerpt": (post.title or post.body or MILESTONES.get(post.milestone, ""))[:140],
            "post_url": _url(f"/community/posts/{post.id}"),
            "settings_url": _url("/community/profile"),
        },
        idempotency_key=f"community-reply:{comment.id}",
        user_id=author.id,
    )


def toggle_reaction(session: Session, user_id: int, post_id: int, emoji: str) -> bool:
    """Add the reaction, or take it back if already there; returns True when now present."""
    if emoji not in REACTIONS:
        raise CommunityError("Unknown reaction.", "emoji")
    _require_voice(session, user_id)
    post = visible_post(session, user_id, post_id)
    existing = session.scalar(
        select(Reaction).where(
            Reaction.post_id == post.id, Reaction.user_id == user_id, Reaction.emoji == emoji
        )
    )
    if existing is not None:
        session.delete(existing)
        session.commit()
        return False
    session.add(Reaction(post_id=post.id, user_id=user_id, emoji=emoji))
    try:
        session.commit()
    except IntegrityError:  # a double tap: the reaction is there, which is what she wanted
        session.rollback()
    return True


def report_post(session: Session, reporter_id: int, post_id: int, reason: str = "") -> Report:
    """Flag a visible post for the coach (once per member). Commits."""
    _require_member(session, reporter_id)
    post = visible_post(session, reporter_id, post_id)
    reason = (reason or "").strip()[: LIMITS["reason"]]
    existing = session.scalar(
        select(Report).where(Report.post_id == post.id, Report.reporter_id == reporter_id)
    )
    if existing is not None:
        return existing
    report = Report(post_id=post.id, reporter_id=reporter_id, reason=reason)
    session.add(report)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return session.scalar(
            select(Report).where(Report.post_id == post.id, Report.reporter_id == reporter_id)
        )
    return report


# --- the coach's moderation ------------------------------------------------------------------


def create_thread(session: Session, coach_id: int, title: str, body: str = "") -> Post:
    """A pinned weekly thread ("This week's wins"); the previous thread is unpinned. Commits."""
    _require_coach(session, coach_id)
    title = _text(title, LIMITS["title"], "title", "Give the thread a title.")
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


def _coach_post(session: Session, coach_id: int, post_id: int) -> Post:
    _require_coach(session, coach_id)
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
    _require_coach(session, coach_id)
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
    _require_coach(session, coach_id)
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
    _require_coach(session, coach_id)
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
    clients = set(session.scalars(_client_ids()))
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


# --- the weekly digest -----------------------------------------------------------------------


def send_weekly_digest(session: Session, now: datetime | None = None) -> int:
    """Queue this week's community digest to every client who wants it (marketing: the outbox
    checks consent and unsubscribes). Safe to run twice a week: one email per member and ISO
    week. Returns how many were queued. Commits."""
    from tasks.outbox import queue_email

    now = now or utcnow()
    since = now - timedelta(days=7)
    year, week, _ = now.isocalendar()
    visible = (
        select(Post)
        .where(Post.hidden_at.is_(None), _visible_authors(), Post.created_at >= since)
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
            "url": _url(f"/community/posts/{p.id}"),
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
            User.id.in_(_client_ids()),
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
                "thread_url": _url(f"/community/posts/{thread.id}") if thread else "",
                "feed_url": _url("/community"),
                "settings_url": _url("/community/profile"),
            },
            idempotency_key=f"community-digest:{user.id}:{year}-W{week:02d}",
            user_id=user.id,
            category="marketing",
        )
        queued += row is not None
    session.commit()
    return queued
