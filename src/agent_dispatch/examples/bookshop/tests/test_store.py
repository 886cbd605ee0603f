import unittest
from decimal import Decimal

from bookshop.models import Book
from bookshop.store import Inventory, UnknownBook


class InventoryTest(unittest.TestCase):
    def setUp(self):
        self.inventory = Inventory()
        self.inventory.add(Book("1", "Dune", "Frank Herbert", Decimal("9.99")), copies=2)

    def test_add_counts_copies(self):
        self.assertEqual(self.inventory.count("1"), 2)

    def test_remove_lowers_count(self):
        self.inventory.remove("1")
        self.assertEqual(self.inventory.count("1"), 1)

    def test_unknown_book(self):
        with self.assertRaises(UnknownBook):
            self.inventory.get("nope")


if __name__ == "__main__":
    unittest.main()
