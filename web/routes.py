"""The JSON + PNG API: each handler checks its input (params.py), calls the client, renders with json_view.

Client calls block, so they run in Starlette's thread pool; the one client is shared (gRPC
channels are thread-safe). An image query is a POST whose body is the file.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from latentspace.client import Query, Term, json_view
from latentspace.web.atlas import PROJECTIONS
from latentspace.web.errors import BadRequest
from latentspace.web.params import ParsedQuery, json_body, read_upload

__all__ = ["api_routes"]

_DIRECTION_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _state(request: Request):
    return request.app.state.gateway


async def _call(function, *args, **kwargs):
    return await run_in_threadpool(function, *args, **kwargs)


async def info(request: Request) -> JSONResponse:
    return JSONResponse(json_view.info_json(await _call(_state(request).client.info)))


async def labels(request: Request) -> JSONResponse:
    return JSONResponse({"labels": await _call(_state(request).labels)})


async def search(request: Request) -> JSONResponse:
    q, gateway = ParsedQuery(request), _state(request)
    options = {"k": q.k(), "labels": q.labels()}
    if request.method == "POST":
        image = await read_upload(request, gateway.config.max_upload_bytes)
        result = await _call(gateway.client.search, image, **options)
    else:
        item_id = q.required_integer("id", "the item whose neighbours to find (or POST an image)")
        result = await _call(gateway.client.search, item_id=item_id, exclude_self=not q.flag("include_self"), **options)
    return JSONResponse(json_view.search_json(result))


async def combine(request: Request) -> JSONResponse:
    """``p``/``n``: item ids to move towards/away from; ``pdir``/``ndir``: stored directions; a POST's
    body is one more positive term, an image."""
    q, gateway = ParsedQuery(request), _state(request)
    positive = [Term(query=Query(item_id=i)) for i in q.integers("p")] + [Term.named(d) for d in q.texts("pdir")]
    negative = [Term(query=Query(item_id=i)) for i in q.integers("n")] + [Term.named(d) for d in q.texts("ndir")]
    if request.method == "POST":
        positive.insert(0, Term(query=Query(image=await read_upload(request, gateway.config.max_upload_bytes))))
    if not positive and not negative:
        raise BadRequest("give terms: p=ID (more like this) and/or n=ID (less like this)")
    method = q.method("add")
    result = await _call(gateway.client.combine, positive, negative, method=method, k=q.k(),
                         include_terms=q.flag("include_terms"), labels=q.labels())
    return JSONResponse(json_view.combine_json(result, method))


async def shift(request: Request) -> JSONResponse:
    q, gateway = ParsedQuery(request), _state(request)
    direction = q.text("direction")
    if not direction:
        raise BadRequest("give direction=NAME, a stored direction (see /api/directions)")
    if request.method == "POST":
        start = Query(image=await read_upload(request, gateway.config.max_upload_bytes))
    else:
        start = Query(item_id=q.required_integer("id", "the item to start from (or POST an image)"))
    result = await _call(gateway.client.shift, start, direction=direction, alphas=q.numbers("alphas", [0.0, 0.5, 1.0]),
                         k=q.k(), include_start=q.flag("include_start"), labels=q.labels())
    return JSONResponse(json_view.path_json(result, "alpha"))


async def walk(request: Request) -> JSONResponse:
    q, gateway = ParsedQuery(request), _state(request)
    a = q.required_integer("a", "the item to walk from")
    b = q.required_integer("b", "the item to walk to")
    result = await _call(gateway.client.walk, a, b, steps=q.integer("steps", 6, minimum=2), slerp=q.flag("slerp"),
                         unique=q.flag("unique"), k=q.k(), include_ends=q.flag("include_ends"), labels=q.labels())
    return JSONResponse(json_view.path_json(result, "t"))


async def directions(request: Request) -> JSONResponse:
    gateway = _state(request)
    if request.method == "GET":
        return JSONResponse(json_view.directions_json(await _call(gateway.client.list_directions)))
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not _DIRECTION_NAME.match(name):
        raise BadRequest("name: 1 to 64 characters of A-Z a-z 0-9 _ . -")
    sources = [key for key in ("labels", "classes", "positive") if key in body]
    if len(sources) != 1 or ("negative" in body) != ("positive" in body):
        raise BadRequest('give one source: "labels": [A, B], "classes": [A, B], or "positive" and "negative" item ids')
    source = sources[0]
    if source == "positive":
        sets = {}
        for key in ("positive", "negative"):
            ids = body[key]
            if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise BadRequest(f"{key}: a non-empty list of item ids")
            sets[key] = [Query(item_id=i) for i in ids]
        options = sets
    else:
        pair = body[source]
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) and p for p in pair)):
            raise BadRequest(f"{source}: two names [A, B], meaning A minus B")
        options = {source: tuple(pair)}
    created = await _call(gateway.client.create_direction, name, **options)
    return JSONResponse(json_view.direction_json(created), status_code=201)


async def delete_direction(request: Request) -> JSONResponse:
    name = request.path_params["name"]
    await _call(_state(request).client.delete_direction, name)
    return JSONResponse({"deleted": name})


async def item(request: Request) -> JSONResponse:
    [found] = await _call(_state(request).client.get_items, [request.path_params["id"]])
    return JSONResponse(json_view.item_json(found))


async def thumbnail(request: Request) -> Response:
    size = ParsedQuery(request).integer("size", 128, minimum=16, maximum=1024)
    item_id = request.path_params["id"]
    thumbs = await _call(_state(request).client.thumbnails, [item_id], size=size)
    thumb = thumbs[item_id]
    headers = {"Cache-Control": "private, max-age=300"}
    if thumb.missing:
        headers["X-Missing-Reason"] = thumb.missing_reason
    return Response(thumb.png, media_type="image/png", headers=headers)


async def atlas(request: Request) -> JSONResponse:
    q = ParsedQuery(request)
    grid = q.integer("grid", 16, minimum=2, maximum=64)
    projection = q.text("projection", "umap")
    if projection not in PROJECTIONS:
        raise BadRequest(f"projection={projection!r}: choose umap or pca")
    return JSONResponse(await _call(_state(request).atlas.layout, grid, projection))


def api_routes() -> list[Route]:
    return [
        Route("/api/info", info),
        Route("/api/labels", labels),
        Route("/api/search", search, methods=["GET", "POST"]),
        Route("/api/combine", combine, methods=["GET", "POST"]),
        Route("/api/shift", shift, methods=["GET", "POST"]),
        Route("/api/walk", walk),
        Route("/api/directions", directions, methods=["GET", "POST"]),
        Route("/api/directions/{name}", delete_direction, methods=["DELETE"]),
        Route("/api/items/{id:int}", item),
        Route("/api/thumbnails/{id:int}.png", thumbnail),
        Route("/api/atlas", atlas),
    ]
