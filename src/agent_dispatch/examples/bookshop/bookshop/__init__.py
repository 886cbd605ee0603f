"""A small bookshop: an inventory, prices, a sales API and a command line."""
