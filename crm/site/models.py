from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db


class SiteText(db.Model):
    """Editable public copy (the landing page's blocks), keyed by name."""

    __tablename__ = "site_texts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
