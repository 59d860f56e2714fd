"""Money is integer cents plus an ISO currency; these helpers turn it into text and back."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Larger than any price or refund the coach could mean, and well inside an `integer` of cents.
MAX_AMOUNT = Decimal("1000000")
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "cad": "CA$", "aud": "A$"}


def format_money(cents: int, currency: str = "usd") -> str:
    symbol = _SYMBOLS.get(currency.lower())
    sign = "-" if cents < 0 else ""
    amount = f"{abs(cents) / 100:,.2f}"
    if symbol:
        return f"{sign}{symbol}{amount}"
    return f"{sign}{amount} {currency.upper()}"


def parse_cents(text: str) -> int:
    """'149' or '149.50' or '$1,149.5' → cents. Raises ValueError for anything else."""
    cleaned = (text or "").strip().lstrip("$€£").replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite() or abs(value) > MAX_AMOUNT:
        raise ValueError(f"not an amount Hero takes: {text!r}")
    if value.as_tuple().exponent < -2:
        raise ValueError("at most two decimals")
    return int((value * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
