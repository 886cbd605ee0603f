"""Domain records."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Book:
    isbn: str
    title: str
    author: str
    price: Decimal


@dataclass(frozen=True)
class Sale:
    isbn: str
    quantity: int
    total: Decimal
