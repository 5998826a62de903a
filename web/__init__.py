"""The web gateway: one static page and a JSON + PNG API over a latentspace gRPC server.

A browser cannot speak gRPC, so this small ASGI app (Starlette, served by uvicorn) answers HTTP
by calling the server through :mod:`latentspace.client`; its JSON is the CLI's ``--json``
(:mod:`latentspace.client.json_view`). The page is plain HTML, CSS and JavaScript in
``static/``: no build step, nothing fetched from anywhere else.
"""

from latentspace.web.app import create_app
from latentspace.web.config import GatewayConfig
from latentspace.web.runner import Gateway

__all__ = ["Gateway", "GatewayConfig", "create_app"]
