"""The coach's dashboard: today's calls, new leads and the funnel."""

from flask import Flask


def init_app(app: Flask) -> None:
    pass
