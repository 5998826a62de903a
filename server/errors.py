"""What can go wrong in a request, as exceptions of the core; the servicer maps each to a status.

The core raises these with a message a caller can act on; it never imports gRPC. The one table
that turns them into status codes is in :mod:`latentspace.server.service`.
"""

from __future__ import annotations

__all__ = ["AlreadyExists", "DeadlineExceeded", "EmptyIndex", "InvalidQuery", "NotFound", "PreconditionFailed",
           "ServiceError", "ShuttingDown", "StorageFull", "TooLarge"]


class ServiceError(Exception):
    """Base of the errors a request can cause; the message is shown to the caller."""


class InvalidQuery(ServiceError, ValueError):
    """The request is malformed: bad image bytes, a wrong vector, k out of range, duplicate ids."""


class NotFound(ServiceError, LookupError):
    """An id names no stored item."""


class EmptyIndex(ServiceError):
    """The index holds no items, so there is nothing to search."""


class AlreadyExists(ServiceError):
    """A name is taken (a named direction of that name is stored)."""


class PreconditionFailed(ServiceError):
    """The index cannot answer this as it was built (classifier rows need the penultimate layer)."""


class TooLarge(ServiceError):
    """The request asks for more than the server's configured limits allow."""


class ShuttingDown(ServiceError):
    """The server is stopping and takes no new work."""


class DeadlineExceeded(ServiceError):
    """The caller's deadline passed, so the work stopped between two of its stages."""


class StorageFull(ServiceError):
    """The server's disk is full; the change was not stored."""
