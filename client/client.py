"""A blocking client for the latentspace service; one method per RPC.

Every call has a deadline (``timeout``, per client or per call); every failure is raised as a
:class:`~latentspace.client.errors.LatentSpaceError` subclass; every result is a frozen dataclass
from :mod:`latentspace.client.models`. This module imports neither torch nor FAISS.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

from latentspace.client.arithmetic import ArithmeticCalls
from latentspace.client.errors import LatentSpaceError, Unavailable, error_from_status
from latentspace.client.messages import query_message, search_message
from latentspace.client.models import (
    Hit,
    IndexInfo,
    Item,
    Limits,
    NewImage,
    Query,
    SearchResult,
    WeightsInfo,
    as_vector,
)
from latentspace.client.sheets import SheetCalls
from latentspace.proto.v1 import latentspace_pb2 as pb
from latentspace.proto.v1 import latentspace_pb2_grpc as pb_grpc

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "Client"]

DEFAULT_MAX_MESSAGE_BYTES = 64 << 20

ImageInput = bytes | bytearray | memoryview | str | os.PathLike


def _read_token(path: Path) -> str:
    """The token in a token file: its one line, surrounding whitespace ignored."""
    token = path.read_text(encoding="ascii", errors="strict").strip()
    if not token or any(not 0x21 <= ord(ch) <= 0x7E for ch in token):
        raise ValueError(f"token file {path} must hold one token: printable ASCII without spaces")
    return token


def _result(message: pb.SearchResponse) -> SearchResult:
    return SearchResult(tuple(Hit(h.id, h.score, h.path, h.label) for h in message.hits), message.metric)


def _item(message: pb.Item) -> Item:
    vector = as_vector(message.vector.values) if message.HasField("vector") else None
    return Item(message.id, message.path, message.label, message.sha256, message.width, message.height,
                message.stored_file or None, vector)


class Client(SheetCalls, ArithmeticCalls):
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
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if token is not None and token_file is not None:
            raise ValueError("give token or token_file, not both")
        self.address = address
        self.timeout = timeout
        if token_file is not None:
            token = _read_token(Path(token_file))
        self._metadata = (("authorization", f"Bearer {token}"),) if token is not None else None
        options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if ca is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=Path(ca).read_bytes())
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._stub = pb_grpc.LatentSpaceStub(self._channel)
        self._health = health_pb2_grpc.HealthStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, rpc, request, timeout: float | None):
        """The one place a gRPC failure becomes one of our exceptions."""
        try:
            return rpc(request, timeout=self.timeout if timeout is None else timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            code = exc.code().name if exc.code() is not None else "UNKNOWN"
            details = exc.details() or "no details"
            if code == "CANCELLED":
                # This client never cancels a call, so the server (gRPC itself) did: a call that
                # arrives as the server stops is cancelled before any handler sees it. Retryable.
                code, details = "UNAVAILABLE", f"the server cancelled the call; it is shutting down ({details})"
            if code == "UNAVAILABLE":
                details = f"server at {self.address}: {details}"
            raise error_from_status(code, details) from None

    # -- searching -----------------------------------------------------------------------------

    def search(
        self,
        image: ImageInput | None = None,
        *,
        item_id: int | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        k: int = 10,
        exclude_self: bool = True,
        labels: Iterable[str] = (),
        timeout: float | None = None,
    ) -> SearchResult:
        """The ``k`` nearest items to an image (bytes or a file), a stored item, or a vector.

        ``exclude_self`` leaves an item query's own item out; ``labels`` keeps only those labels.
        """
        request = search_message(image, item_id=item_id, vector=vector, k=k, exclude_self=exclude_self, labels=labels)
        return _result(self._call(self._stub.Search, request, timeout))

    def batch_search(
        self,
        queries: Iterable[Query | int | bytes | np.ndarray | str | os.PathLike],
        *,
        k: int = 10,
        exclude_self: bool = True,
        labels: Iterable[str] = (),
        timeout: float | None = None,
    ) -> list[SearchResult]:
        """One result per query, in order; see :meth:`Query.of` for what a bare value means."""
        request = pb.BatchSearchRequest(queries=[query_message(Query.of(q)) for q in queries],
                                        options=self._options(k, exclude_self, labels))
        return [_result(r) for r in self._call(self._stub.BatchSearch, request, timeout).results]

    @staticmethod
    def _options(k: int, exclude_self: bool, labels: Iterable[str]) -> pb.SearchOptions:
        return pb.SearchOptions(k=k, include_self=not exclude_self, labels=list(labels))

    def embed(self, image: ImageInput, *, timeout: float | None = None) -> np.ndarray:
        """The vector ``(d,)`` float32 the server's embedder makes for this image."""
        request = pb.EmbedRequest(image=Query(image=image).image)
        return as_vector(self._call(self._stub.Embed, request, timeout).vector.values)

    # -- items ---------------------------------------------------------------------------------

    def get_items(self, ids: Iterable[int], *, with_vectors: bool = False, timeout: float | None = None) -> list[Item]:
        """Items in the order asked; NotFound if any id is unknown."""
        request = pb.GetItemsRequest(ids=[int(i) for i in ids], with_vectors=with_vectors)
        return [_item(m) for m in self._call(self._stub.GetItems, request, timeout).items]

    def iter_items(self, *, page_size: int = 1000, timeout: float | None = None) -> Iterator[Item]:
        """Every stored item in id order, fetched a page at a time."""
        after = 0
        while True:
            page = self._call(self._stub.ListItems, pb.ListItemsRequest(after_id=after, limit=page_size), timeout)
            yield from (_item(m) for m in page.items)
            if not page.next_after_id:
                return
            after = page.next_after_id

    def add_images(self, images: Iterable[NewImage | ImageInput], *, timeout: float | None = None) -> list[Item]:
        """Embed and store images; durable on return.

        Bare bytes are an image without path or label; a file path means ``NewImage.from_file``.
        """
        new = [
            im if isinstance(im, NewImage)
            else NewImage(bytes(im)) if isinstance(im, (bytes, bytearray, memoryview))
            else NewImage.from_file(im)
            for im in images
        ]
        request = pb.AddImagesRequest(images=[pb.NewImage(data=im.data, path=im.path, label=im.label) for im in new])
        return [_item(m) for m in self._call(self._stub.AddImages, request, timeout).items]

    def remove(self, ids: Iterable[int], *, timeout: float | None = None) -> list[int]:
        """Remove items; NotFound (and nothing removed) if any id is unknown. Durable on return."""
        request = pb.RemoveItemsRequest(ids=[int(i) for i in ids])
        return list(self._call(self._stub.RemoveItems, request, timeout).removed_ids)

    # -- the server ----------------------------------------------------------------------------

    def info(self, *, timeout: float | None = None) -> IndexInfo:
        m = self._call(self._stub.Info, pb.InfoRequest(), timeout)
        w, lim = m.weights, m.limits
        return IndexInfo(
            item_count=m.item_count, dimension=m.dimension, model=m.model, layer=m.layer,
            weights=WeightsInfo(w.choice, w.description, w.sha256, w.pretrained), metric=m.metric,
            faiss_factory=m.faiss_factory, uses_faiss=m.uses_faiss, device=m.device, versions=dict(m.versions),
            limits=Limits(lim.max_k, lim.max_batch_queries, lim.max_add_images, lim.max_ids, lim.max_message_bytes,
                          lim.max_thumbnails, lim.max_tile_size, lim.max_picture_pixels),
        )

    def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """The standard health status: ``SERVING``, ``NOT_SERVING``, ``UNKNOWN`` or ``SERVICE_UNKNOWN``."""
        try:
            response = self._call(self._health.Check, health_pb2.HealthCheckRequest(service=service), timeout)
        except LatentSpaceError as exc:
            if exc.code == "NOT_FOUND":
                return "SERVICE_UNKNOWN"
            raise
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

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
