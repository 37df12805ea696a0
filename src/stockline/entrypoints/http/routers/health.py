"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.deps import ContainerDep
from stockline.entrypoints.http.errors import SERVICE_UNAVAILABLE, problem_response

router = APIRouter(tags=["operations"])


class LivenessOut(BaseModel):
    status: Literal["ok"]


class ReadinessOut(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]


@router.get("/healthz", response_model=LivenessOut, summary="Liveness: the process answers")
async def get_liveness() -> LivenessOut:
    return LivenessOut(status="ok")


@router.get("/readyz", response_model=ReadinessOut, summary="Readiness: the database answers",
            responses={503: {"description": "The database is unreachable"}})
async def get_readiness(container: ContainerDep) -> Response:
    try:
        await container.queries.ping()
    except Exception as exc:  # whatever the failure, this node cannot serve
        return problem_response(SERVICE_UNAVAILABLE, f"database unreachable: {type(exc).__name__}",
                                {"Retry-After": "1"})
    return Response(b'{"status":"ready","database":"ok"}', media_type="application/json")


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def get_metrics(request: Request, container: ContainerDep,
                      _principal: PrincipalDep) -> Response:
    m = request.app.state.metrics
    await m.database.refresh(container, request.app.state.settings.metrics_cache_seconds)
    return Response(m.render(), media_type=m.content_type)
