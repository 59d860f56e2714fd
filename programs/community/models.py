"""The clients' community: posts, comments, reactions, reports and each member's settings."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.time import UTCDateTime, utcnow
from extensions import db


class PostKind(enum.StrEnum):
    POST = "post"
    THREAD = "thread"  # the coach's weekly thread ("this week's wins")
    MILESTONE = "milestone"  # shared from the runner's log in one click


class CommunityMember(db.Model):
    """A person's community settings. A runner chooses her display name before she appears."""

    __tablename__ = "community_members"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    display_name: Mapped[str] = mapped_column(String(40))
    notify_replies: Mapped[bool] = mapped_column(default=True)
    weekly_digest: Mapped[bool] = mapped_column(default=True)
    muted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Post(db.Model):
    __tablename__ = "community_posts"
    __table_args__ = (
        Index("ix_community_posts_pinned_created", "pinned", "created_at"),
        Index("ix_community_posts_author_milestone", "author_id", "milestone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[PostKind] = mapped_column(
        Enum(PostKind, native_enum=False, length=16), default=PostKind.POST
    )
    title: Mapped[str] = mapped_column(String(120), default="")  # threads only
    body: Mapped[str] = mapped_column(Text, default="")  # plain text, always escaped on output
    milestone: Mapped[str] = mapped_column(String(32), default="")
    photo_key: Mapped[str] = mapped_column(String(100), default="", index=True)
    pinned: Mapped[bool] = mapped_column(default=False)
    # Hidden by the coach (moderation): kept, shown to nobody but her, until she deletes it.
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    author = relationship("User")
    comments: Mapped[list[Comment]] = relationship(
        back_populates="post", order_by="Comment.id", cascade="all, delete-orphan"
    )
    reactions: Mapped[list[Reaction]] = relationship(cascade="all, delete-orphan")
    reports: Mapped[list[Report]] = relationship(
        back_populates="post", cascade="all, delete-orphan"
    )


class Comment(db.Model):
    __tablename__ = "community_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("community_posts.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    post: Mapped[Post] = relationship(back_populates="comments")
    author = relationship("User")


class Reaction(db.Model):
    __tablename__ = "community_reactions"
    __table_args__ = (UniqueConstraint("post_id", "user_id", "emoji"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("community_posts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    emoji: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Report(db.Model):
    """A member flags a post for the coach; one report per member and post."""

    __tablename__ = "community_reports"
    __table_args__ = (UniqueConstraint("post_id", "reporter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("community_posts.id", ondelete="CASCADE"), index=True
    )
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    post: Mapped[Post] = relationship(back_populates="reports")
    reporter = relationship("User")
