"""Query-string and body values of the API, each checked once here with a message a person can act on."""

from __future__ import annotations

import json

from starlette.requests import Request

from latentspace.client.convert import METHODS as _CLIENT_METHODS
from latentspace.web.errors import BadRequest

__all__ = ["METHODS", "ParsedQuery", "json_body", "read_upload"]

METHODS: tuple[str, ...] = tuple(_CLIENT_METHODS)
"""The combination methods the API accepts: the client's (and so the Combine RPC's), all of them."""


class ParsedQuery:
    """Typed access to ``request.query_params``; every getter raises BadRequest on a bad value."""

    def __init__(self, request: Request) -> None:
        self._params = request.query_params

    def has(self, name: str) -> bool:
        return name in self._params

    def integer(self, name: str, default: int | None = None, *, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        text = self._params.get(name)
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            raise BadRequest(f"{name}={text!r}: give a whole number") from None
        if minimum is not None and value < minimum:
            raise BadRequest(f"{name}={value}: must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise BadRequest(f"{name}={value}: must be at most {maximum}")
        return value

    def required_integer(self, name: str, what: str, **bounds) -> int:
        value = self.integer(name, **bounds)
        if value is None:
            raise BadRequest(f"give {name}=N, {what}")
        return value

    def integers(self, name: str) -> list[int]:
        values = []
        for text in self._params.getlist(name):
            for part in filter(None, (p.strip() for p in text.split(","))):
                try:
                    values.append(int(part))
                except ValueError:
                    raise BadRequest(f"{name}={part!r}: give item ids (whole numbers)") from None
        return values

    def numbers(self, name: str, default: list[float]) -> list[float]:
        text = self._params.get(name)
        if text is None or text.strip() == "":
            return default
        try:
            values = [float(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise BadRequest(f"{name}={text!r}: give comma-separated numbers, as in 0,0.5,1") from None
        if not values or any(v != v or v in (float("inf"), float("-inf")) for v in values):
            raise BadRequest(f"{name}={text!r}: give finite numbers")
        return values

    def flag(self, name: str) -> bool:
        text = self._params.get(name, "").lower()
        if text in ("", "0", "false", "no"):
            return False
        if text in ("1", "true", "yes", "on"):
            return True
        raise BadRequest(f"{name}={text!r}: give 1 or 0")

    def text(self, name: str, default: str = "") -> str:
        return self._params.get(name, default)

    def texts(self, name: str) -> list[str]:
        return [t for t in self._params.getlist(name) if t]

    def labels(self) -> list[str]:
        return self.texts("label")

    def method(self, default: str) -> str:
        method = self._params.get("method", default)
        if method not in METHODS:
            raise BadRequest(f"method={method!r}: choose one of {', '.join(METHODS)}")
        return method

    def k(self) -> int:
        return self.integer("k", 10, minimum=1)


DRAIN_FACTOR = 4
"""A refused upload is still read (and dropped) up to this many times the limit, so that the
client, still sending, receives the 413 instead of a reset connection; beyond that it is cut."""


async def read_upload(request: Request, limit: int, *, required: bool = True) -> bytes | None:
    """The request body (an image); past ``limit`` bytes a 413, after reading on (and dropping) at most
    ``DRAIN_FACTOR`` × ``limit``, so the sender gets the answer, not a reset, while it is still sending."""
    declared = request.headers.get("content-length")
    declared_over = declared is not None and declared.isdigit() and int(declared) > limit
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_FACTOR * limit:
            break
        if not declared_over and size <= limit:
            chunks.append(chunk)
    if declared_over:
        raise BadRequest(f"the upload is {int(declared):,} bytes; the limit is {limit:,}", 413, "TOO_LARGE")
    if size > limit:
        raise BadRequest(f"the upload is over the limit of {limit:,} bytes", 413, "TOO_LARGE")
    data = b"".join(chunks)
    if not data:
        if required:
            raise BadRequest("no image in the request: send the image file as the body of the POST")
        return None
    return data


async def json_body(request: Request, limit: int = 1 << 20) -> dict:
    """A JSON object body, at most ``limit`` bytes."""
    data = await read_upload(request, limit)
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object")
    return value
