"""What each member may see: the feed, a post and its photo."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from crm.accounts.models import Role, User
from crm.articles import images
from programs.community.members import client_ids, coach_ids, display_names, require_member
from programs.community.models import Comment, Post
from programs.community.rules import PER_PAGE, PHOTO_BUCKET, NotFound


def visible_authors():
    return or_(Post.author_id.in_(client_ids()), Post.author_id.in_(coach_ids()))


def _visible_posts(viewer: User):
    query = select(Post)
    if viewer.role != Role.COACH:
        query = query.where(Post.hidden_at.is_(None), visible_authors())
    return query


def visible_post(session: Session, viewer_id: int, post_id: int) -> Post:
    """The post if this member may see it; NotFound otherwise (also for hidden posts and posts
    of former clients), NotAMember for a non-member."""
    viewer = require_member(session, viewer_id)
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
    clients = set(session.scalars(client_ids()))
    coaches = set(session.scalars(coach_ids()))
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
    viewer = require_member(session, viewer_id)
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
    viewer = require_member(session, viewer_id)
    post = visible_post(session, viewer_id, post_id)
    view = _views(session, viewer, [post])[0]
    names = display_names(session, {post.author_id} | {c.author_id for c in view.comments})
    return view, names
