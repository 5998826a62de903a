"""The asyncio client: :class:`AsyncClient` has every method of :class:`~latentspace.client.Client`,
awaited, over ``grpc.aio``, for services written with asyncio.

    async with AsyncClient("127.0.0.1:50051") as client:
        result = await client.search(item_id=3, k=5)
        async for item in client.iter_items():
            ...

The methods, their arguments, results and exceptions are those of the blocking client (both are
:class:`~latentspace.client.methods.ServiceMethods`); only the channel differs. Create it inside the
running event loop that will use it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

from grpc_health.v1 import health_pb2

from latentspace.client import convert
from latentspace.client.channel import DEFAULT_MAX_MESSAGE_BYTES, AsyncChannel
from latentspace.client.client import health_status
from latentspace.client.errors import LatentSpaceError, Unavailable
from latentspace.client.methods import ServiceMethods
from latentspace.client.models import Item
from latentspace.proto.v1 import latentspace_pb2 as pb

__all__ = ["AsyncClient"]


class AsyncClient(ServiceMethods):
    """``async with AsyncClient("127.0.0.1:50051") as client: await client.search(item_id=3, k=5)``."""

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
        """The same options as :class:`~latentspace.client.Client`."""
        self._channel = AsyncChannel(address, timeout=timeout, max_message_bytes=max_message_bytes, ca=ca,
                                     token=token, token_file=token_file)
        self._stub = self._channel.stub

    @property
    def address(self) -> str:
        return self._channel.address

    @property
    def timeout(self) -> float:
        """Seconds a call may take when it is given no ``timeout`` of its own."""
        return self._channel.timeout

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, rpc: str, request, read, timeout: float | None):
        return read(await self._channel.call(getattr(self._stub, rpc), request, timeout))

    async def _stream(self, rpc: str, request, reader, timeout: float | None):
        messages = self._channel.stream(getattr(self._stub, rpc), request, timeout)
        try:
            async for message in messages:
                reader.feed(message)
        finally:
            await messages.aclose()
        return reader.result()

    async def iter_items(self, *, page_size: int = 1000, timeout: float | None = None) -> AsyncIterator[Item]:
        """Every stored item in id order, fetched a page at a time."""
        after = 0
        while True:
            page, after = await self._run("ListItems", pb.ListItemsRequest(after_id=after, limit=page_size),
                                          convert.item_page, timeout)
            for item in page:
                yield item
            if not after:
                return

    async def health(self, service: str = "", *, timeout: float | None = None) -> str:
        """The standard health status: ``SERVING``, ``NOT_SERVING``, ``UNKNOWN`` or ``SERVICE_UNKNOWN``."""
        try:
            response = await self._channel.call(self._channel.health.Check,
                                                health_pb2.HealthCheckRequest(service=service), timeout)
        except LatentSpaceError as exc:
            return health_status(exc)
        return health_status(response)

    async def wait_until_serving(self, timeout: float = 30.0) -> None:
        """Poll health until SERVING; Unavailable after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                if await self.health(timeout=max(0.1, min(1.0, deadline - time.monotonic()))) == "SERVING":
                    return
            except LatentSpaceError as exc:
                last = f": {exc.message}"
            await asyncio.sleep(0.05)
        raise Unavailable(f"server at {self.address} not SERVING after {timeout:.0f} s{last}")
