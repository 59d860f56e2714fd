"""Accounts: coach and runner users, login, password reset, API tokens, `create-coach`."""

from flask import Flask

from crm.nav import add_nav
from tasks.registry import Step, register_preview, register_step


def init_app(app: Flask) -> None:
    # Imported here: nearly every module (tasks too) imports crm.accounts.models or .access, and
    # at the top these would load the accounts web layer and the outbox into each of them.
    from crm.accounts import access, api, cli, routes  # noqa: F401 - access registers the loaders

    access.init_app(app)
    app.register_blueprint(routes.bp)
    api.register(app)
    app.cli.add_command(cli.create_coach)
    app.login_manager.login_view = "accounts.login"
    add_nav(app, "coach", "accounts.api_tokens", "API tokens", 95)
    register_step(app, "account", 10, Step(
        "password_reset", "Password reset", "When someone asks to reset a password"
    ))  # fmt: skip
    register_preview(app, lambda session, template, contact: {"token": "preview-token"})
