"""``GET /``: where to start, without a key: the documentation, the OpenAPI document, and
the dashboard when this server has one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.routing import NoMatchFound

from stockline.entrypoints.http.docs import DOCS_PATH

router = APIRouter(tags=["operations"])

DASHBOARD_PATH = "/dashboard"


class ServiceIndex(BaseModel):
    name: str = Field(examples=["Stockline"])
    version: str
    links: dict[str, str] = Field(
        description="Where to go next, by name: `docs` (the interactive documentation), "
                    "`openapi` (the OpenAPI document), and `dashboard` when this server "
                    "serves one", examples=[{"docs": "/docs", "openapi": "/openapi.json"}])


def links_of(request: Request) -> dict[str, str]:
    """The index's links, from the routes the app has (the dashboard only if served)."""
    app = request.app
    links = {"docs": DOCS_PATH, "openapi": app.openapi_url or "/openapi.json"}
    if any(getattr(route, "path", None) == DASHBOARD_PATH for route in app.routes) or (
            _named(app, "dashboard")):
        links["dashboard"] = DASHBOARD_PATH
    return links


def _named(app: Starlette, name: str) -> bool:
    """The app serves a route of this name (in an included router too)."""
    try:
        app.url_path_for(name)
    except NoMatchFound:
        return False
    return True


@router.get("/", response_model=ServiceIndex, summary="Where to start: the documentation, "
            "the OpenAPI document (no key needed)")
async def service_index(request: Request) -> ServiceIndex:
    return ServiceIndex(name=request.app.title, version=request.app.version,
                        links=links_of(request))
