"""Stockline: real-time inventory and sales for multi-location retailers."""

__version__ = "0.1.0"
