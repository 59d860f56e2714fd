"""The coach's CRM: leads, the pipeline, notes, the timeline, CSV import and export."""

from flask import Flask


def init_app(app: Flask) -> None:
    pass
