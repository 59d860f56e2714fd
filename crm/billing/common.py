"""Small helpers every billing use case shares: absolute URLs, Stripe references, emails."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app


def _abs(path: str) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + path


def _id(value: Any) -> str | None:
    """A Stripe reference is an id string, or the expanded object carrying one."""
    if isinstance(value, dict):
        return value.get("id")
    return value or None


def _ts(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def _invoice_payment_intent(invoice: dict) -> str | None:
    pi = _id(invoice.get("payment_intent"))
    if not pi:
        for item in (invoice.get("payments") or {}).get("data") or []:
            pi = _id((item.get("payment") or {}).get("payment_intent"))
            if pi:
                break
    return pi
