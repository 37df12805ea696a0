"""The interactive API documentation, served from this package's own copy of Swagger UI.

FastAPI's default /docs page loads Swagger UI from a CDN at run time; Stockline must work
on a machine without the internet, so the assets come from the fastapi-offline package (its
copy of Swagger UI 5, which renders OpenAPI 3.1: the 4.x of swagger-ui-bundle could not).
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"


def install_docs(app: FastAPI) -> None:
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR),
              name="swagger-ui")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=f"{DOCS_PATH}/oauth2-redirect",
            # No badge from the public validator: the page loads nothing from elsewhere.
            swagger_ui_parameters={"validatorUrl": None})

    @app.get(f"{DOCS_PATH}/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
