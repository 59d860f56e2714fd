"""Billing's domain errors: the pages and the API turn them into messages."""

from __future__ import annotations


class BillingError(Exception):
    """A domain error with a message fit to show the coach or the runner."""


class OfferUnavailable(BillingError):
    """The offer link is invalid, expired or already used."""
