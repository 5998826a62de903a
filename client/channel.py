"""The client's connection: a gRPC channel (plain or TLS), its bearer token, and the one call path.

:meth:`Channel.call` (and :meth:`AsyncChannel.call`, its asyncio twin) is the one place a deadline
is applied, and :func:`error_from_rpc` the one place a gRPC failure becomes one of the exceptions of
:mod:`latentspace.client.errors` (with the request id the server returned), so nothing above them
sees ``grpc.RpcError``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2_grpc

from latentspace.client.errors import LatentSpaceError, error_from_status
from latentspace.proto.v1 import latentspace_pb2_grpc as pb_grpc

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "REQUEST_ID_KEY", "AsyncChannel", "Channel", "error_from_rpc", "read_token"]

DEFAULT_MAX_MESSAGE_BYTES = 64 << 20
REQUEST_ID_KEY = "x-request-id"
"""The trailing metadata in which the server returns the id it logged a call under."""


def error_from_rpc(exc: grpc.RpcError, address: str) -> LatentSpaceError:
    """The client exception for a failed call, carrying the server's request id when it sent one."""
    code = exc.code().name if exc.code() is not None else "UNKNOWN"
    details = exc.details() or "no details"
    if code == "CANCELLED":
        # This client cancels a call only when the reader of a stream stops early, and then
        # raises the reader's exception, not this; so the server (gRPC itself) did: a call
        # that arrives as the server stops is cancelled before any handler sees it. Retryable.
        code, details = "UNAVAILABLE", f"the server cancelled the call; it is shutting down ({details})"
    if code == "UNAVAILABLE":
        details = f"server at {address}: {details}"
    request_id = None
    try:
        for key, value in exc.trailing_metadata() or ():
            if key == REQUEST_ID_KEY:
                request_id = value if isinstance(value, str) else value.decode("ascii", "replace")
    except Exception:  # noqa: BLE001 - a failure without trailers (no server answered) has no id
        request_id = None
    return error_from_status(code, details, request_id)


def _options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes)]


def _metadata(token: str | None, token_file: str | os.PathLike | None) -> tuple[tuple[str, str], ...] | None:
    if token is not None and token_file is not None:
        raise ValueError("give token or token_file, not both")
    if token_file is not None:
        token = read_token(Path(token_file))
    return (("authorization", f"Bearer {token}"),) if token is not None else None


def read_token(path: Path) -> str:
    """The token in a token file: its one line, surrounding whitespace ignored."""
    token = path.read_text(encoding="ascii", errors="strict").strip()
    if not token or any(not 0x21 <= ord(ch) <= 0x7E for ch in token):
        raise ValueError(f"token file {path} must hold one token: printable ASCII without spaces")
    return token


class Channel:
    """A connection to one server, with the service's stub and the standard health stub."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        ca: str | os.PathLike | None = None,
        token: str | None = None,
        token_file: str | os.PathLike | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.address = address
        self.timeout = timeout
        self._metadata = _metadata(token, token_file)
        options = _options(max_message_bytes)
        if ca is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=Path(ca).read_bytes())
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self.stub = pb_grpc.LatentSpaceStub(self._channel)
        self.health = health_pb2_grpc.HealthStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def call(self, rpc, request, timeout: float | None):
        """``rpc(request)`` with the deadline and the token; failures raised as LatentSpaceError."""
        try:
            return rpc(request, timeout=self.timeout if timeout is None else timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, self.address) from None

    def stream(self, rpc, request, timeout: float | None) -> Iterator:
        """The messages of a server-streaming ``rpc(request)``; closing the iterator early cancels the call."""
        call = rpc(request, timeout=self.timeout if timeout is None else timeout, metadata=self._metadata)
        try:
            yield from call
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, self.address) from None
        finally:
            call.cancel()  # nothing once the stream ended; otherwise the server stops the work


class AsyncChannel:
    """:class:`Channel` over ``grpc.aio``: the same stubs, awaited; made inside the event loop it serves."""

    def __init__(
        self,
        address: str,
        *,
        timeout: float,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        ca: str | os.PathLike | None = None,
        token: str | None = None,
        token_file: str | os.PathLike | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.address = address
        self.timeout = timeout
        self._metadata = _metadata(token, token_file)
        options = _options(max_message_bytes)
        if ca is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=Path(ca).read_bytes())
            self._channel = grpc.aio.secure_channel(address, credentials, options=options)
        else:
            self._channel = grpc.aio.insecure_channel(address, options=options)
        self.stub = pb_grpc.LatentSpaceStub(self._channel)
        self.health = health_pb2_grpc.HealthStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def call(self, rpc, request, timeout: float | None):
        """``await rpc(request)`` with the deadline and the token; failures raised as LatentSpaceError."""
        try:
            return await rpc(request, timeout=self.timeout if timeout is None else timeout, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, self.address) from None

    async def stream(self, rpc, request, timeout: float | None) -> AsyncIterator:
        """The messages of a server-streaming ``rpc(request)``; closing the iterator early cancels the call."""
        call = rpc(request, timeout=self.timeout if timeout is None else timeout, metadata=self._metadata)
        try:
            async for message in call:
                yield message
        except grpc.RpcError as exc:
            raise error_from_rpc(exc, self.address) from None
        finally:
            call.cancel()
