"""The read side: filtered, keyset-paginated lists and single lookups for the API."""

from stockline.adapters.queries.audit import AuditQueries
from stockline.adapters.queries.base import Page, decode_cursor, encode_cursor
from stockline.adapters.queries.core import CoreQueries
from stockline.adapters.queries.counting import CountingQueries
from stockline.adapters.queries.cover import CoverQueries
from stockline.adapters.queries.customers import CustomerQueries
from stockline.adapters.queries.events import EventQueries
from stockline.adapters.queries.history import HistoryQueries, PastLevel
from stockline.adapters.queries.keys import KeyQueries
from stockline.adapters.queries.nested import NestedQueries
from stockline.adapters.queries.purchasing import PurchasingQueries
from stockline.adapters.queries.reports import ReportQueries
from stockline.adapters.queries.reservations import ReservationQueries
from stockline.adapters.queries.transfers import TransferQueries
from stockline.adapters.queries.valuation import StockValue, ValuationQueries
from stockline.adapters.queries.webhooks import WebhookQueries


class Queries(CoreQueries, TransferQueries, ReservationQueries, PurchasingQueries,
              EventQueries, WebhookQueries, KeyQueries, AuditQueries, CustomerQueries,
              ReportQueries, CoverQueries, CountingQueries, HistoryQueries,
              ValuationQueries, NestedQueries):
    """Every read the API makes, over the read engine."""


__all__ = ["Page", "PastLevel", "Queries", "StockValue", "decode_cursor", "encode_cursor"]
