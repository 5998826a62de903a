"""The ASGI app: the page's three files, the API routes, error answers and security headers."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from importlib import resources

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from latentspace.client import LatentSpaceError
from latentspace.web.atlas import AtlasCache
from latentspace.web.config import GatewayConfig
from latentspace.web.errors import BadRequest, error_response
from latentspace.web.routes import api_routes

__all__ = ["CONTENT_SECURITY_POLICY", "GatewayState", "create_app"]

# Only the page's own files and API; blob: is the preview of an image the user picked.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]

# The page: a fixed set of packaged files, read once. No URL names a file to open.
_PAGE_FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
    "/static/icon.svg": ("icon.svg", "image/svg+xml"),
}


class GatewayState:
    """What the handlers share: the config, one client, the atlas cache and the label list."""

    def __init__(self, config: GatewayConfig, client) -> None:
        self.config = config
        self.client = client
        self.atlas = AtlasCache(client)
        self._labels: tuple[tuple, list[str]] | None = None
        self._lock = threading.Lock()

    def labels(self) -> list[str]:
        """Every label in the index, sorted; recomputed when the item count changes."""
        count = self.client.info().item_count
        with self._lock:
            if self._labels is None or self._labels[0] != count:
                found = sorted({item.label for item in self.client.iter_items() if item.label})
                self._labels = (count, found)
            return self._labels[1]


def _page_route(path: str, name: str, media_type: str) -> Route:
    body = resources.files("latentspace.web").joinpath("static", name).read_bytes()

    async def page(request: Request) -> Response:
        return Response(body, media_type=media_type, headers={"Cache-Control": "no-cache"})

    return Route(path, page)


class _SecurityHeaders:
    """Adds the CSP and friends to every answer, the API's included."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + _SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    message = {404: "no such page or API route", 405: "this route does not take that method"}.get(exc.status_code,
                                                                                                 exc.detail)
    return JSONResponse({"error": f"{message}: {request.method} {request.url.path}", "code": "HTTP"},
                        status_code=exc.status_code)


async def _client_error(request: Request, exc: Exception) -> Response:
    return error_response(exc)


def create_app(config: GatewayConfig, client=None) -> Starlette:
    """The gateway for ``config.server``; it opens (and at shutdown closes) its client unless one is given."""
    own_client = client is None
    client = config.client() if own_client else client

    @asynccontextmanager
    async def lifespan(app):
        yield
        if own_client:
            client.close()

    routes = [_page_route(path, name, media) for path, (name, media) in _PAGE_FILES.items()] + api_routes()
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, BadRequest: _client_error, LatentSpaceError: _client_error},
        lifespan=lifespan,
    )
    app.state.gateway = GatewayState(config, client)
    app.add_middleware(_SecurityHeaders)
    return app
