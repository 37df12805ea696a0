"""Who is calling: an API key (``X-API-Key``) or a bearer token; 401 otherwise."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from stockline.entrypoints.http.errors import UNAUTHORIZED, ProblemError
from stockline.services.executor import Caller

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                        description="An API key; the admin key is printed by `stockline serve`")
_bearer = HTTPBearer(auto_error=False, description="The admin key, or a token")


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    name: str
    role: str

    @property
    def caller(self) -> Caller:
        return Caller(principal=self.id, actor=self.name)


ADMIN = Principal(id="admin", name="admin", role="admin")


def _matches(secret: str | None, given: str) -> bool:
    return secret is not None and hmac.compare_digest(secret.encode(), given.encode())


async def authenticate(
    request: Request,
    api_key: Annotated[str | None, Depends(_api_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    settings = request.app.state.settings
    admin_key = settings.admin_key.get_secret_value() if settings.admin_key else None
    given = api_key if api_key is not None else (bearer.credentials if bearer else None)
    if given is None:
        raise ProblemError(UNAUTHORIZED, "send an API key in X-API-Key or a bearer token",
                           {"WWW-Authenticate": "Bearer"})
    if _matches(admin_key, given):
        return ADMIN
    raise ProblemError(UNAUTHORIZED, "the credential is not valid",
                       {"WWW-Authenticate": 'Bearer error="invalid_token"'})


PrincipalDep = Annotated[Principal, Depends(authenticate)]
