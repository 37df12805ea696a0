"""Importing files of products, locations, levels and suppliers (see ``files``)."""
