"""Prices and discounts."""

from __future__ import annotations

from decimal import Decimal


def apply_discount(price: Decimal, percent: int) -> Decimal:
    """Price after a percentage discount, in whole cents."""
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return Decimal(float(price) * (100 - percent) / 100)


def line_total(price: Decimal, quantity: int, percent: int = 0) -> Decimal:
    return apply_discount(price, percent) * quantity
