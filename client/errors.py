"""The client's exceptions: one class per gRPC status a caller may want to handle.

:func:`error_from_status` is the one place that maps a status to a class; every method of
:class:`~latentspace.client.Client` raises through it, so callers never see ``grpc.RpcError``.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "Cancelled",
    "DeadlineExceeded",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "LatentSpaceError",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "error_from_status",
]


class LatentSpaceError(Exception):
    """A call failed. ``code`` is the gRPC status name (``"NOT_FOUND"``), ``message`` the server's reason,
    ``request_id`` the id the server logged the call under (None when no server answered)."""

    code: str = "UNKNOWN"

    def __init__(self, message: str, *, code: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        text = f"{self.code.lower().replace('_', ' ')}: {self.message}"
        return f"{text} (request id {self.request_id})" if self.request_id else text


class InvalidArgument(LatentSpaceError):
    """The request is malformed: bad image, wrong vector, k out of range, duplicate ids…"""

    code = "INVALID_ARGUMENT"


class NotFound(LatentSpaceError):
    """An id names no stored item."""

    code = "NOT_FOUND"


class AlreadyExists(LatentSpaceError):
    code = "ALREADY_EXISTS"


class FailedPrecondition(LatentSpaceError):
    """The index is not in a state to do this (for example it is empty)."""

    code = "FAILED_PRECONDITION"


class ResourceExhausted(LatentSpaceError):
    """Over a limit: too many queries, images or ids in one request, a message too large, too many
    calls at once (retry later), or the server's disk is full (nothing was stored)."""

    code = "RESOURCE_EXHAUSTED"


class Unavailable(LatentSpaceError):
    """No server answers at the address, or it is shutting down; retrying later may work."""

    code = "UNAVAILABLE"


class DeadlineExceeded(LatentSpaceError):
    """The call took longer than its timeout."""

    code = "DEADLINE_EXCEEDED"


class Unauthenticated(LatentSpaceError):
    """The server needs a bearer token (``token_file=``/``--token-file``) and got none or another."""

    code = "UNAUTHENTICATED"


class PermissionDenied(LatentSpaceError):
    code = "PERMISSION_DENIED"


class Cancelled(LatentSpaceError):
    """Not raised by :class:`~latentspace.client.Client`, which reports a call the server
    cancelled (as it stops) as :class:`Unavailable`; kept for code that maps statuses itself."""

    code = "CANCELLED"


class Unimplemented(LatentSpaceError):
    """The server does not offer this call (it may be an older version)."""

    code = "UNIMPLEMENTED"


class Internal(LatentSpaceError):
    """A bug on the server; its log has the details."""

    code = "INTERNAL"


_BY_CODE: dict[str, type[LatentSpaceError]] = {
    cls.code: cls
    for cls in (InvalidArgument, NotFound, AlreadyExists, FailedPrecondition, ResourceExhausted, Unavailable,
                DeadlineExceeded, Unauthenticated, PermissionDenied, Cancelled, Unimplemented, Internal)
}


def error_from_status(code: str, message: str, request_id: str | None = None) -> LatentSpaceError:
    """The exception for a gRPC status name and details; unknown codes give a plain LatentSpaceError."""
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(message, request_id=request_id)
    return LatentSpaceError(message, code=code, request_id=request_id)
