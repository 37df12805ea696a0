"""API keys: create (the key shown once), list, look up, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from stockline.adapters.credentials import new_api_key
from stockline.domain.errors import NotFound
from stockline.domain.keys import RevokeApiKey
from stockline.domain.security import Role
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.deps import NO_STORE, ContainerDep, Cursor, Limit, WriterDep
from stockline.entrypoints.http.schemas.common import Page, problems
from stockline.entrypoints.http.schemas.keys import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from stockline.entrypoints.operations import REVOKE_API_KEY, api_key_request, create_api_key
from stockline.services.executor import utcnow

router = APIRouter(prefix="/v1/api-keys", tags=["access"])
KeyId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]{1,40}$")]
# The answer that carries a secret must not be kept by any cache on the way.


@router.post("", status_code=201, response_model=ApiKeyCreated, responses=problems(403, 404),
             summary="Create an API key",
             description="The answer carries the key once, as `key`: Stockline keeps only a "
                         "hash of its secret and a visible `prefix`. With an Idempotency-Key, "
                         "a replay answers the same key record with `key: null` (the secret "
                         "is never stored, so it cannot be shown twice) and creates nothing. "
                         "An unknown location is 404; an expiry in the past, or a location "
                         "scope on an admin or manager key, is 422.")
async def create_key(body: ApiKeyCreate, write: WriterDep) -> Response:
    issued = new_api_key()
    command = body.to_command(prefix=issued.prefix, secret_hash=issued.secret_hash)
    response = await write.perform(create_api_key(issued.key), command, body=body, status=201,
                                   identity=api_key_request(command))
    response.headers.update(NO_STORE)
    return response


@router.get("", response_model=Page[ApiKeyOut], responses=problems(403),
            summary="API keys, newest first",
            description="Neither keys nor their hashes are ever listed: a key is told by its "
                        "`prefix`.")
async def list_keys(container: ContainerDep, _p: PrincipalDep, role: Role | None = None,
                    revoked: Annotated[bool | None, Query(
                        description="true: only revoked keys; false: only keys not revoked "
                                    "(expired ones included)")] = None,
                    limit: Limit = 50, cursor: Cursor = None) -> Page[ApiKeyOut]:
    page = await container.queries.api_keys(role=role.value if role else None, revoked=revoked,
                                            limit=limit, cursor=cursor)
    now = utcnow()
    return Page(items=[ApiKeyOut.of(k, now) for k in page.items], next_cursor=page.next_cursor)


@router.get("/{key_id}", response_model=ApiKeyOut, responses=problems(403, 404),
            summary="One API key")
async def get_key(key_id: KeyId, container: ContainerDep, _p: PrincipalDep) -> ApiKeyOut:
    key = await container.queries.api_key(key_id)
    if key is None:
        raise NotFound("api key", key_id)
    return ApiKeyOut.of(key, utcnow())


@router.delete("/{key_id}", response_model=ApiKeyOut, responses=problems(403, 404),
               summary="Revoke an API key",
               description="The key, and every access token issued to it, stop working: at "
                           "once on the node that revoked it, within a few seconds "
                           "(STOCKLINE_KEY_CACHE_SECONDS) on the others. The key stays listed "
                           "as `revoked`. Revoking a revoked key answers it unchanged.")
async def revoke_key(key_id: KeyId, write: WriterDep) -> Response:
    forget = write.container.authenticator.keys.forget
    return await write.perform(REVOKE_API_KEY, RevokeApiKey(key_id=key_id), body=None,
                               on_success=lambda k: forget(k.id))
