"""What a driver error means: a transaction to try again, the database down, or a bug.

Kept apart from the unit of work (no repository imported) so that every entrypoint's
error rendering can use it without loading the storage layer.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from stockline.services.executor import StorageUnavailable, TransientStorageError

# SQLSTATEs after which the same transaction may simply be tried again.
_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}
_UNAVAILABLE_SQLSTATES_PREFIXES = ("08", "53", "57")


def translate(error: DBAPIError) -> Exception:
    """Map a driver error to what the services understand; anything else stays a bug."""
    orig = error.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return TransientStorageError(str(orig))
    if error.connection_invalidated or (
            sqlstate and sqlstate.startswith(_UNAVAILABLE_SQLSTATES_PREFIXES)):
        return StorageUnavailable(str(orig))
    message = str(orig).lower()
    if any(s in message for s in ("database is locked", "disk is full", "disk i/o error",
                                  "unable to open database", "connection", "database or disk")):
        return StorageUnavailable(str(orig))
    return error


def storage_down(error: BaseException) -> bool:
    """Whether an error that reached an entrypoint means the database is down or busy
    (a 503, a gRPC UNAVAILABLE) rather than a bug: what the executor raises for writes, a
    read's driver error classified as a write's would be, or the connection refused."""
    match error:
        case StorageUnavailable() | TransientStorageError() | OSError():
            return True
        case DBAPIError():
            return isinstance(translate(error), StorageUnavailable | TransientStorageError)
    return False
