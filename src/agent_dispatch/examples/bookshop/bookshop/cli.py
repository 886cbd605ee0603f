"""Command line: ``python -m bookshop.cli`` prints the stock report of a demo shop."""

from __future__ import annotations

from decimal import Decimal

from bookshop.api import stock_report
from bookshop.models import Book
from bookshop.store import Inventory


def demo_inventory() -> Inventory:
    inventory = Inventory()
    inventory.add(Book("978-0", "Dune", "Frank Herbert", Decimal("9.99")), copies=3)
    inventory.add(Book("978-1", "Emma", "Jane Austen", Decimal("5.50")), copies=1)
    return inventory


def render_report(rows: list[tuple[str, int]]) -> str:
    return "\n".join(f"{title}: {copies}" for title, copies in rows)


def main() -> None:
    print(render_report(stock_report(demo_inventory())))


if __name__ == "__main__":
    main()
