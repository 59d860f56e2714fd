"""The email outbox: every email is a row before it is a send."""

from flask import Flask


def init_app(app: Flask) -> None:
    pass
