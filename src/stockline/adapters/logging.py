"""Structured logs: one JSON object per line, with the request id bound per request.

Every line goes the same way, whether logged through structlog or the standard module
(uvicorn, httpx, alembic): the same fields, the same renderer, and two rules kept on the
way out. A value that may be a credential or personal data (an ``api_key=``, ``ticket=``,
``token=``, ``customer_ref=``... in a query string, a password in a URL) is replaced by
``***`` (``redact``). A database error is written as its class, SQLSTATE, constraint and
statement, never its message, which can quote the values a statement was given; the
engines keep parameters out of their own messages (``hide_parameters``).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import asyncpg
import structlog
from sqlalchemy.connectors.asyncio import AsyncAdapt_Error
from sqlalchemy.exc import StatementError

REDACTED = "***"
# Query parameters whose values are never logged: any name with one of these in it.
_SECRET_NAMES = ("key", "token", "ticket", "secret", "passw", "auth", "sig", "session",
                 "customer", "contact", "email", "phone")
_SECRET_PARAMETER = re.compile(
    r"((?:^|[?&;])[\w.\-]*(?:" + "|".join(_SECRET_NAMES) + r")[\w.\-]*=)[^&#\s\"']*",
    re.IGNORECASE)
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.\-]*://)[^/@\s]+@", re.IGNORECASE)
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, AsyncAdapt_Error)
_SCHEMA_FIELDS = ("constraint_name", "table_name", "column_name")
_DICT_TRACEBACK = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)


def redact(text: str) -> str:
    """``text`` (a URL, a query string, a message quoting one) without credential or
    personal values: those of the query parameters named so, and a URL's user:password."""
    if "=" in text:
        text = _SECRET_PARAMETER.sub(rf"\g<1>{REDACTED}", text)
    if "@" in text:
        text = _USERINFO.sub(rf"\g<1>{REDACTED}@", text)
    return text


def _redact_fields(_logger: Any, _method: str,
                   event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name, value in event.items():
        if type(value) is str and ("=" in value or "@" in value):
            event[name] = redact(value)
    return event


def database_error_text(error: BaseException) -> str | None:
    """What may be logged of a database error (None: not one): its SQLSTATE and the
    schema objects it names, and for a statement's error the statement, never a value."""
    if isinstance(error, StatementError):
        orig = error.orig
        said = (database_error_text(orig) or str(orig)) if orig is not None else ""
        return f"({type(orig).__name__}) {said} [SQL: {error.statement}]"
    if not isinstance(error, _DRIVER_ERRORS):
        return None  # SQLite's messages name tables and columns, never values
    sources = (error, error.__cause__)
    parts = [f"SQLSTATE {code}" for code in [getattr(error, "sqlstate", None)] if code]
    parts += [f"{field.removesuffix('_name')} {value}" for field in _SCHEMA_FIELDS
              for value in {getattr(s, field, None) for s in sources} if value]
    return ", ".join(parts) or "(message withheld: it may quote statement parameters)"


def _safe_traceback(exc_info: Any) -> list[dict[str, Any]]:
    """The exception and its chain as JSON (no local variables: they hold headers,
    bodies and customers), each message redacted and database errors described safely."""
    texts: dict[tuple[str, str], str] = {}
    _collect_database_errors(exc_info[1], texts, set())
    stacks: list[dict[str, Any]] = _DICT_TRACEBACK(exc_info)
    _rewrite(stacks, texts)
    return stacks


def _collect_database_errors(error: BaseException | None, texts: dict[tuple[str, str], str],
                             seen: set[int]) -> None:
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        text = database_error_text(error)
        if text is not None:
            texts[(type(error).__name__, str(error))] = text
        for member in getattr(error, "exceptions", ()):
            _collect_database_errors(member, texts, seen)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)


def _rewrite(stacks: list[dict[str, Any]], texts: dict[tuple[str, str], str]) -> None:
    for stack in stacks:
        said = stack.get("exc_value", "")
        stack["exc_value"] = texts.get((stack.get("exc_type", ""), said)) or redact(said)
        for trace in stack.get("exceptions", ()):
            _rewrite(trace.get("stacks", []), texts)


_TRACEBACKS = structlog.processors.ExceptionRenderer(_safe_traceback)


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False,
                                           exception_formatter=structlog.dev.plain_traceback))
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    stamp, _redact_fields, _TRACEBACKS, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Libraries that log through the standard module (uvicorn, httpx, alembic, warnings)
    # share the level and the way out.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.contextvars.merge_contextvars,
                           structlog.processors.add_log_level, structlog.stdlib.add_logger_name,
                           stamp],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _redact_fields,
                    _TRACEBACKS, renderer]))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's default config gives them their own
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.captureWarnings(True)
