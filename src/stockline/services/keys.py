"""API keys: create one (its secret made and shown by the entrypoint), revoke one.

Listing keys is a read (the queries). Only keys:manage may create or revoke a key, and
nobody may create a key that could do more than its creator (see ``check_grant``).
"""

from __future__ import annotations

from stockline.domain.errors import NotFound
from stockline.domain.ids import new_id
from stockline.domain.keys import (
    ApiKey,
    CreateApiKey,
    RevokeApiKey,
    check_expiry,
    check_grant,
    check_locations,
    check_name,
    check_rate_limit,
    check_role,
)
from stockline.domain.security import PRINCIPAL_TEXT_MAX_LENGTH, Permission
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork


async def create_key(uow: UnitOfWork, cmd: CreateApiKey, ctx: Context) -> ApiKey:
    """Store a new key: a name, a role, optionally a location scope and an expiry.

    The name is 1-100 characters (it is the actor of the key's writes), the role a known
    one, the expiry in the future, and every location of the scope exists (404 otherwise).
    Only the prefix and the hash of the secret are stored: the caller has the secret, and
    nobody can see it again.
    """
    role = check_role(cmd.role)
    locations = check_locations(role, cmd.location_ids)
    ctx.require(Permission.KEYS_MANAGE)
    if ctx.caller.access is not None:
        check_grant(ctx.caller.access, role, locations)
    key = ApiKey(id=new_id("key"), prefix=cmd.prefix, name=check_name(cmd.name), role=role,
                 locations=locations, expires_at=check_expiry(cmd.expires_at, ctx.now),
                 last_used_at=None, revoked_at=None,
                 created_by=ctx.caller.principal[:PRINCIPAL_TEXT_MAX_LENGTH], created_at=ctx.now,
                 rate_limit=check_rate_limit(cmd.rate_limit))
    for location_id in locations or ():
        if not await uow.locations.exists(location_id):
            raise NotFound("location", location_id)
    await uow.api_keys.add(key, cmd.secret_hash)
    return key


async def revoke_key(uow: UnitOfWork, cmd: RevokeApiKey, ctx: Context) -> ApiKey:
    """Revoke a key for good: it, and every access token issued to it, stop working.

    Revoking is idempotent: a key revoked already is answered as it is, with the time
    of its first revocation. An unknown key is 404.
    """
    ctx.require(Permission.KEYS_MANAGE)
    key = await uow.api_keys.get(cmd.key_id, for_update=True)
    if key is None:
        raise NotFound("api key", cmd.key_id)
    revoked = key.revoked(ctx.now)
    if revoked is not key:
        await uow.api_keys.revoke(key.id, ctx.now)
    return revoked
