"""CSV out: ``Accept: text/csv`` on every list route."""

from stockline.entrypoints.http.csvexport.export import CsvExportMiddleware, check_accept
from stockline.entrypoints.http.csvexport.shapes import document_csv

__all__ = ["CsvExportMiddleware", "check_accept", "document_csv"]
