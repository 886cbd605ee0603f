"""Behaviour checks named by the sprint plan's `verify` lines; each raises AssertionError on failure.

Run one with: python -c 'from tests.checks import stock; stock()'
"""

from decimal import Decimal

from bookshop.api import sell
from bookshop.models import Book
from bookshop.store import Inventory, OutOfStock


def _shop() -> Inventory:
    inventory = Inventory()
    inventory.add(Book("1", "Dune", "Frank Herbert", Decimal("9.99")), copies=3)
    return inventory


def stock() -> None:
    inventory = _shop()
    try:
        inventory.remove("1", 5)
    except OutOfStock:
        assert inventory.count("1") == 3, "a refused removal must not change the count"
        return
    raise AssertionError(f"removing 5 of 3 copies did not raise OutOfStock (count now {inventory.count('1')})")


def quantity() -> None:
    for bad in (0, -2):
        try:
            sell(_shop(), "1", bad)
        except ValueError:
            continue
        raise AssertionError(f"sell() accepted quantity {bad}")
