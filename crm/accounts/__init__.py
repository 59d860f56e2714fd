"""Accounts: coach and runner users, login, password reset, API tokens, `create-coach`."""

from celery.schedules import crontab
from flask import Flask

from crm.nav import add_nav
from tasks import add_periodic_task
from tasks.registry import Step, register_preview, register_step


def init_app(app: Flask) -> None:
    # Imported here: nearly every module (tasks too) imports crm.accounts.models or .access, and
    # at the top these would load the accounts web layer and the outbox into each of them.
    from crm.accounts import access, api, cli, routes, tasks  # noqa: F401 - loaders, jobs

    access.init_app(app)
    app.register_blueprint(routes.bp)
    api.register(app)
    app.cli.add_command(cli.create_coach)
    app.login_manager.login_view = "accounts.login"
    add_nav(app, "coach", "accounts.api_tokens", "API tokens", 95)
    add_periodic_task(
        app, "prune-sign-ins", "crm.accounts.prune_sign_ins", crontab(hour=4, minute=20)
    )
    register_step(app, "account", 10, Step(
        "password_reset", "Password reset", "When someone asks to reset a password"
    ))  # fmt: skip
    register_preview(app, lambda session, template, contact: {"token": "preview-token"})
