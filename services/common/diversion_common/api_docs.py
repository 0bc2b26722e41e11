"""``/docs`` served from this machine: Swagger UI's files come from the ``swagger-ui-bundle-v2``
package (Swagger UI 5, which reads OpenAPI 3.1), not from FastAPI's CDN.

A force's network may reach no CDN, and a page that loads scripts from a third party tells
it who reads our documentation. Nothing on the page names another host: the validator badge
(which would send the document to validator.swagger.io) is off. Like the document itself,
the page and its files need no key.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from starlette.requests import Request
from swagger_ui_bundle import swagger_ui_path

from diversion_common.problems import NotFound

DOCS_PATH = "/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"
# The page's own files; anything else under ASSETS_PATH is a 404.
ASSETS = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})


def is_api_docs(path: str) -> bool:
    """The page or one of its files (served without a key, as the document is)."""
    return path == DOCS_PATH or path.startswith(f"{ASSETS_PATH}/")


def install_docs(app: FastAPI) -> None:
    """Add ``/docs`` and its files to an app made with ``docs_url=None`` (and no ReDoc, a CDN page too).

    Plain Starlette routes, as FastAPI's own /docs: public by design, in no role's matrix."""

    async def docs(_request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: API documentation",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={"validatorUrl": None},
        )

    async def docs_asset(request: Request) -> FileResponse:
        name = request.path_params["name"]
        if name not in ASSETS:
            raise NotFound()
        return FileResponse(swagger_ui_path / name)

    app.add_route(DOCS_PATH, docs, methods=["GET"], include_in_schema=False)
    app.add_route(f"{ASSETS_PATH}/{{name}}", docs_asset, methods=["GET"], include_in_schema=False)
