"""Location scope on the read side, shared by the routers.

The route's rule (``permissions.ROUTES``) has let the caller's role in; what is left is
where: a single object outside the locations the caller may see for that permission is
a 403, a list filter naming such a location is a 403 (the caller asked for another
location's data), and a list without one shows only what the caller may see.
"""

from __future__ import annotations

from typing import Any

from stockline.domain.errors import Forbidden
from stockline.domain.security import Permission, Principal
from stockline.entrypoints.http.schemas.common import Page


def require_at(principal: Principal, permission: Permission, *location_ids: str) -> None:
    """Forbidden unless the caller may see this at every location it named."""
    principal.require(permission, *location_ids)


def require_of(principal: Principal, permission: Permission, what: str,
               *location_ids: str) -> None:
    """Forbidden unless the caller may see an object it named by id at one of its locations
    (a transfer is seen from either end). The refusal does not say where the object is."""
    principal.require(permission)
    if not any(principal.may_at(permission, location_id) for location_id in location_ids):
        raise Forbidden(f"{permission.value} is limited to this key's locations, and this "
                        f"{what} is not at one of them")


def within(principal: Principal, permission: Permission,
           asked: str | None = None) -> frozenset[str] | None:
    """The locations a list may show (None: all of them).

    ``asked``, a location filter, must be one the caller may see (else Forbidden); an
    empty set means the caller may see no location at all: an empty page.
    """
    if asked is not None:
        principal.require(permission, asked)
    return principal.narrow(permission, None if asked is None else [asked])


def empty_page() -> Page[Any]:
    return Page(items=[], next_cursor=None)
