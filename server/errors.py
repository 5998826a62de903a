"""Everything that can go wrong on the server, as one exception tree; the core never imports gRPC.

Request errors derive from :class:`ServiceError` and carry a message a caller can act on; the one
table that turns each into a status code is ``STATUS_OF`` in :mod:`latentspace.server.rpc.interceptors`.
:class:`AccessConfigError` is the one error of starting up: a token, certificate or key file that
cannot be used stops ``latentspace serve`` before anything is loaded.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from pathlib import Path

__all__ = ["AccessConfigError", "AlreadyExists", "Busy", "Cancelled", "DeadlineExceeded", "EmptyIndex", "InvalidQuery", "NotFound",
           "PreconditionFailed", "ServiceError", "ShuttingDown", "StorageFull", "TooLarge", "is_disk_full",
           "no_such_items", "storage_full"]


class ServiceError(Exception):
    """Base of the errors a request can cause; the message is shown to the caller."""


class InvalidQuery(ServiceError, ValueError):
    """The request is malformed: bad image bytes, a wrong vector, k out of range, duplicate ids,
    terms of a combination that have no answer (all negative, cancelling out)."""


class NotFound(ServiceError, LookupError):
    """An id names no stored item, or a name no stored direction or class."""


class EmptyIndex(ServiceError):
    """The index holds no items, so there is nothing to search."""


class AlreadyExists(ServiceError):
    """A name is taken (a named direction of that name is stored)."""


class PreconditionFailed(ServiceError):
    """The index cannot answer this as it was built (classifier rows need the penultimate layer)."""


def no_embedder(what: str) -> PreconditionFailed:
    """The refusal of image work on an index imported without an embedder (``--model none``)."""
    return PreconditionFailed(
        f"{what}: this index holds vectors imported without an embedder (--model none), so the server "
        f"cannot embed images; query by item id or send the vector itself (a vector query or term), "
        f"and add items with `latentspace import-vectors`")


class TooLarge(ServiceError):
    """The request asks for more than the server's configured limits allow."""


class Busy(ServiceError):
    """As many heavy requests (visualizations) run as the server allows; retry later."""


class Cancelled(ServiceError):
    """The caller cancelled the call, so its work stopped."""


class ShuttingDown(ServiceError):
    """The server is stopping and takes no new work."""

    message = "the server is shutting down; retry on another instance"


class DeadlineExceeded(ServiceError):
    """The caller's deadline passed, so the work stopped between two of its stages."""


class StorageFull(ServiceError):
    """The server's disk is full; the change was not stored."""


class AccessConfigError(ValueError):
    """A token, certificate or key file cannot be used; the message names it."""


def no_such_items(missing: Sequence[int], *, prefix: str = "", then: str = "") -> NotFound:
    """``NotFound("no item with id 3, 9 (and 2 more)")``: the one wording of unknown item ids.

    ``prefix`` names the part of the request at fault (``"query 1: "``); ``then`` says what
    followed (``"; nothing was removed"``).
    """
    shown = ", ".join(str(int(i)) for i in missing[:10])
    more = f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""
    return NotFound(f"{prefix}no item with id {shown}{more}{then}")


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is the OSError of a full disk or quota (the store reports SQLite's so too)."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def storage_full(exc: OSError, consequence: str) -> StorageFull:
    """``StorageFull("the server's disk is full (<reason> writing x.png); <consequence>")``.

    Only the file's name is shown: the server's paths stay on the server.
    """
    where = f" writing {Path(exc.filename).name}" if exc.filename else ""
    return StorageFull(f"the server's disk is full ({exc.strerror}{where}); {consequence}")
