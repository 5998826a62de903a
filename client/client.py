"""A blocking client for the latentspace service; one method per RPC (from :mod:`~latentspace.client.methods`).

Every call has a deadline (``timeout``, per client or per call); every failure is raised as a
:class:`~latentspace.client.errors.LatentSpaceError` subclass; every result is a frozen dataclass
from :mod:`latentspace.client.models`. This module imports neither torch nor FAISS.

    with Client("127.0.0.1:50051") as client:
        client.search("cat.jpg", k=5)
        client.analogy(12, 7, 3, k=5)                       # item 12 − item 7 + item 3
        client.create_direction("tabby-tiger", classes=("tabby", "tiger"))
        client.shift(12, direction="tabby-tiger", alphas=[0, 0.5, 1])
        client.walk(12, "photos/cat.jpg", steps=6, slerp=True, unique=True)
        client.walk_sheet(3, 7, steps=6, slerp=True).save("walk.png")
        client.thumbnails([3, 7], size=64)[3].image()       # a Pillow image

The server has the image files and draws the pictures (RenderSheet, GetThumbnails), so a client
needs neither the files nor torch: it receives PNG bytes. A sheet call takes the same arguments
as the call it draws and returns the same results with the picture.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import closing

from grpc_health.v1 import health_pb2

from latentspace.client import convert
from latentspace.client.channel import DEFAULT_MAX_MESSAGE_BYTES, Channel
from latentspace.client.errors import LatentSpaceError, Unavailable
from latentspace.client.methods import DEFAULT_TILE_SIZE, SHEET_KINDS, ServiceMethods
from latentspace.client.models import Item
from latentspace.proto.v1 import latentspace_pb2 as pb

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "DEFAULT_TILE_SIZE", "SHEET_KINDS", "Client", "health_status"]


def health_status(answer: health_pb2.HealthCheckResponse | LatentSpaceError) -> str:
    """The health status name of a Check answer; an unknown service (NOT_FOUND) is ``SERVICE_UNKNOWN``."""
    if isinstance(answer, LatentSpaceError):
        if answer.code == "NOT_FOUND":
            return "SERVICE_UNKNOWN"
        raise answer
    return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)


class Client(ServiceMethods):
    """``with Client("127.0.0.1:50051") as client: client.search(item_id=3, k=5)``."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float = 10.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        ca: str | os.PathLike | None = None,
        token: str | None = None,
        token_file: str | os.PathLike | None = None,
    ) -> None:
        """``ca``: a PEM file of the certificate authority (or the self-signed certificate) to trust;
        given, the connection uses TLS. ``token`` or ``token_file``: the bearer token sent with
        every call as ``authorization: Bearer <token>``.
        """
        self._channel = Channel(address, timeout=timeout, max_message_bytes=max_message_bytes, ca=ca, token=token,
                                token_file=token_file)
        self._stub = self._channel.stub

    @property
    def address(self) -> str:
        return self._channel.address

    @property
    def timeout(self) -> float:
        """Seconds a call may take when it is given no ``timeout`` of its own."""
        return self._channel.timeout

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, rpc: str, request, read, timeout: float | None):
        return read(self._channel.call(getattr(self._stub, rpc), request, timeout))

    def _stream(self, rpc: str, request, reader, timeout: float | None):
        with closing(self._channel.stream(getattr(self._stub, rpc), request, timeout)) as messages:
            for message in messages:
                reader.feed(message)
        return reader.result()

    def iter_items(self, *, page_size: int = 1000, timeout: float | None = None) -> Iterator[Item]:
        """Every stored item in id order, fetched a page at a time."""
        after = 0
        while True:
            page, after = self._run("ListItems", pb.ListItemsRequest(after_id=after, limit=page_size), convert.item_page,
                                    timeout)
            yield from page
            if not after:
                return

    # -- the server ----------------------------------------------------------------------------

    def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """The standard health status: ``SERVING``, ``NOT_SERVING``, ``UNKNOWN`` or ``SERVICE_UNKNOWN``."""
        try:
            response = self._channel.call(self._channel.health.Check, health_pb2.HealthCheckRequest(service=service),
                                          timeout)
        except LatentSpaceError as exc:
            return health_status(exc)
        return health_status(response)

    def wait_until_serving(self, timeout: float = 30.0) -> None:
        """Poll health until SERVING; Unavailable after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.health(timeout=max(0.1, min(1.0, deadline - time.monotonic()))) == "SERVING":
                    return
            except LatentSpaceError as exc:
                if time.monotonic() >= deadline:
                    raise Unavailable(f"server at {self.address} not SERVING after {timeout:.0f} s: {exc.message}") from None
            if time.monotonic() >= deadline:
                raise Unavailable(f"server at {self.address} not SERVING after {timeout:.0f} s")
            time.sleep(0.05)
