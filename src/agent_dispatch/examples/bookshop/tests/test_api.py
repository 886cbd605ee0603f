import unittest
from decimal import Decimal

from bookshop.api import sell, stock_report
from bookshop.models import Book
from bookshop.store import Inventory


class ApiTest(unittest.TestCase):
    def setUp(self):
        self.inventory = Inventory()
        self.inventory.add(Book("1", "Dune", "Frank Herbert", Decimal("10.00")), copies=3)

    def test_sell_records_total(self):
        sale = sell(self.inventory, "1", 2)
        self.assertEqual(sale.total, Decimal("20.00"))
        self.assertEqual(self.inventory.count("1"), 1)

    def test_stock_report(self):
        self.assertEqual(stock_report(self.inventory), [("Dune", 3)])


if __name__ == "__main__":
    unittest.main()
