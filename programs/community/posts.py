"""What members write: posts, shared milestones, replies (with the author's email), reactions,
reports. Each commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.articles import images
from programs.community.feed import visible_post
from programs.community.members import (
    display_names,
    is_member,
    member_settings,
    needs_display_name,
    require_member,
    require_voice,
    save_settings,
)
from programs.community.models import Comment, Post, PostKind, Reaction, Report
from programs.community.rules import (
    LIMITS,
    MILESTONES,
    ONCE_ONLY,
    PHOTO_BUCKET,
    REACTIONS,
    STORAGE_DOWN,
    CommunityError,
    checked_text,
    page_url,
)
from tasks.outbox import queue_email


def create_post(session: Session, author_id: int, body: str, photo: bytes | None = None) -> Post:
    """A member's post (text, optional photo re-encoded without metadata). Commits."""
    require_voice(session, author_id)
    if photo:
        text = (body or "").strip()
        if len(text) > LIMITS["body"]:
            raise CommunityError(f"Keep it under {LIMITS['body']} characters.", "body")
    else:
        text = checked_text(body, LIMITS["body"], "body", "Write something, or add a photo.")
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
    require_voice(session, user_id)
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
    require_voice(session, author_id)
    post = visible_post(session, author_id, post_id)
    text = checked_text(body, LIMITS["comment"], "body", "Write a reply first.")
    comment = Comment(post_id=post.id, author_id=author_id, body=text)
    session.add(comment)
    session.flush()
    if post.author_id != author_id:
        _queue_reply_email(session, post, comment)
    session.commit()
    return comment


def _queue_reply_email(session: Session, post: Post, comment: Comment) -> None:
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
            "post_url": page_url(f"/community/posts/{post.id}"),
            "settings_url": page_url("/community/profile"),
        },
        idempotency_key=f"community-reply:{comment.id}",
        user_id=author.id,
        condition=f"community_member:{author.id}",  # not if her access ends before it goes
    )


def toggle_reaction(session: Session, user_id: int, post_id: int, emoji: str) -> bool:
    """Add the reaction, or take it back if already there; returns True when now present."""
    if emoji not in REACTIONS:
        raise CommunityError("Unknown reaction.", "emoji")
    require_voice(session, user_id)
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
    require_member(session, reporter_id)
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
