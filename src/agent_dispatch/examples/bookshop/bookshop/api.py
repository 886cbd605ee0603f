"""The sales API: what a web handler or the command line calls."""

from __future__ import annotations

from bookshop.models import Sale
from bookshop.pricing import line_total
from bookshop.store import Inventory


def sell(inventory: Inventory, isbn: str, quantity: int, percent: int = 0) -> Sale:
    """Sell ``quantity`` copies and return the sale record."""
    book = inventory.get(isbn)
    inventory.remove(isbn, quantity)
    return Sale(isbn=isbn, quantity=quantity, total=line_total(book.price, quantity, percent))


def stock_report(inventory: Inventory) -> list[tuple[str, int]]:
    """(title, copies) for every book, by title."""
    return [(b.title, inventory.count(b.isbn)) for b in inventory.books()]
