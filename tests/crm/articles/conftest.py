"""Article test fixtures: covers in the test's own folder (or S3 bucket), image bytes to upload."""

from __future__ import annotations

import io

import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def _uploads(uploads):
    """Covers go to the test's own folder, or its own S3 bucket in tests marked BOTH_STORAGES."""
    return uploads


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (640, 480), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 80, 60) if mode == "RGB" else None).save(out, fmt)
    return out.getvalue()


@pytest.fixture
def png():
    return image_bytes


@pytest.fixture
def publish(db_session, coach):
    from crm.articles.services import save_article

    def _publish(**kw):
        kw.setdefault("title", "Hips before knees")
        kw.setdefault("body", "Train the hips.\n\n[[cta]]\n")
        kw.setdefault("status", "published")
        return save_article(db_session, author_id=coach.id, **kw)

    return _publish


@pytest.fixture
def login(auth):
    """Log a user in; forget the user Flask-Login cached in the test's shared `g`."""
    from flask import g

    def _login(user):
        auth.login(user)
        g.pop("_login_user", None)

    return _login
