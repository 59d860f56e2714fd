"""Accounts: coach and runner users, login, password reset, API tokens, `create-coach`."""

from flask import Flask


def init_app(app: Flask) -> None:
    from crm.accounts import access, api, cli, routes  # noqa: F401 - access registers the loaders

    app.register_blueprint(routes.bp)
    api.register(app)
    app.cli.add_command(cli.create_coach)
    app.login_manager.login_view = "accounts.login"
