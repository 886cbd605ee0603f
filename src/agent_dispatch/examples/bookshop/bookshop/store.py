"""In-memory inventory: books and how many copies are on the shelf."""

from __future__ import annotations

from bookshop.models import Book


class UnknownBook(KeyError):
    """No book with that ISBN is stocked."""


class OutOfStock(ValueError):
    """Fewer copies on the shelf than asked for."""


class Inventory:
    def __init__(self) -> None:
        self._books: dict[str, Book] = {}
        self._stock: dict[str, int] = {}

    def add(self, book: Book, copies: int = 1) -> None:
        if copies < 1:
            raise ValueError("copies must be at least 1")
        self._books[book.isbn] = book
        self._stock[book.isbn] = self._stock.get(book.isbn, 0) + copies

    def get(self, isbn: str) -> Book:
        try:
            return self._books[isbn]
        except KeyError:
            raise UnknownBook(isbn) from None

    def count(self, isbn: str) -> int:
        return self._stock.get(isbn, 0)

    def remove(self, isbn: str, copies: int = 1) -> None:
        self.get(isbn)
        self._stock[isbn] = self._stock[isbn] - copies

    def books(self) -> list[Book]:
        return sorted(self._books.values(), key=lambda b: b.title)
