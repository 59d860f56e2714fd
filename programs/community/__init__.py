"""The clients' private community: posts, photos, reactions, replies, the coach's weekly pinned
threads, milestones shared from the log, moderation, and the digest and reply emails."""

from __future__ import annotations

from celery.schedules import crontab
from flask import Flask

from crm.nav import add_nav
from tasks import add_periodic_task
from tasks.registry import register_condition


def init_app(app: Flask) -> None:
    # Imported here: programs.progress (no web code) imports the community's models, and at the
    # top the routes would load the articles renderer and the community's web layer into it.
    from programs.community import cli, models, routes, tasks  # noqa: F401 - models, tasks
    from programs.community.members import is_member, members_among

    app.register_blueprint(routes.bp)
    # Community emails carry portal links: one goes only if she is still a member when it is sent.
    register_condition(
        app,
        "community_member",
        lambda session, user_id: is_member(session, user_id),
        batch=members_among,
    )
    app.cli.add_command(cli.community_digest)
    add_nav(app, "runner", "community.feed", "Community", 40)
    add_nav(app, "coach", "community.feed", "Community", 47)

    add_periodic_task(
        app, "community-weekly-digest", "programs.community.send_digest",
        crontab(day_of_week="mon", hour=15, minute=0),
    )  # fmt: skip
