"""Stream tickets: single-use, short-lived stand-ins for a credential in a stream's URL.

A browser's EventSource cannot send a header, and a long-lived key in a URL ends up in
proxies' and browsers' histories. So a caller trades its key for a ticket (``POST
/v1/events/tickets``) and opens the stream with ``?ticket=``. The ticket is kept in the
database (its SHA-256 only, like a key's secret) so that any process or node sharing the
database accepts it; redeeming it deletes its row in one statement, so of two redemptions,
on any nodes, one wins. It carries the principal it was issued to (role, locations,
credential expiry); what that principal came from is checked again when the ticket is
redeemed and while its stream lasts (``Authenticator.confirm``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.credentials import hash_secret
from stockline.adapters.tables import stream_tickets
from stockline.domain.security import Principal, Role

TICKET_PREFIX = "tk_"
TICKET_TTL = timedelta(seconds=60)
MAX_TICKET_LENGTH = 100  # longer is no ticket of ours, and is not hashed


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    ticket: str  # shown once, never stored
    expires_in: int  # seconds


class TicketStore:
    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime],
                 ttl: timedelta = TICKET_TTL) -> None:
        self._engine, self._clock, self._ttl = engine, clock, ttl

    async def issue(self, principal: Principal) -> IssuedTicket:
        """A new ticket for ``principal`` (and the expired ones forgotten meanwhile)."""
        ticket = TICKET_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        async with self._engine.begin() as conn:
            await conn.execute(delete(stream_tickets)
                               .where(stream_tickets.c.expires_at <= now))
            await conn.execute(insert(stream_tickets).values(
                digest=hash_secret(ticket), principal_id=principal.id,
                principal_name=principal.name, role=principal.role.value,
                location_ids=sorted(principal.locations) if principal.locations is not None
                else None, credential_expires_at=principal.expires_at,
                expires_at=now + self._ttl, created_at=now))
        return IssuedTicket(ticket, int(self._ttl.total_seconds()))

    async def redeem(self, ticket: str) -> Principal | None:
        """The principal of ``ticket``, once: None when it is unknown, used or expired."""
        if not ticket.startswith(TICKET_PREFIX) or len(ticket) > MAX_TICKET_LENGTH:
            return None
        async with self._engine.begin() as conn:
            row = (await conn.execute(
                delete(stream_tickets).where(stream_tickets.c.digest == hash_secret(ticket))
                .returning(stream_tickets))).first()
        if row is None or row.expires_at <= self._clock():
            return None
        return Principal(id=row.principal_id, name=row.principal_name, role=Role(row.role),
                         locations=frozenset(row.location_ids)
                         if row.location_ids is not None else None,
                         expires_at=row.credential_expires_at)
