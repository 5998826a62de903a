"""The gateway's errors and how each becomes an HTTP answer ``{"error": message, "code": CODE}``."""

from __future__ import annotations

from starlette.responses import JSONResponse

from latentspace.client import LatentSpaceError

__all__ = ["BadRequest", "error_response", "status_of"]

# The gRPC status of a failed call -> the HTTP status the page gets. Statuses that mean the
# gateway itself is misconfigured (its token, its TLS) or the server failed are 502: the page's
# request was fine, the service behind the gateway was not.
_HTTP_STATUS = {
    "INVALID_ARGUMENT": 400,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "FAILED_PRECONDITION": 409,
    "RESOURCE_EXHAUSTED": 429,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


class BadRequest(Exception):
    """The page sent something the gateway rejects before calling the server (400, or ``status``)."""

    def __init__(self, message: str, status: int = 400, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


def status_of(exc: LatentSpaceError) -> int:
    return _HTTP_STATUS.get(exc.code, 502)


def error_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, BadRequest):
        return JSONResponse({"error": exc.message, "code": exc.code}, status_code=exc.status)
    if isinstance(exc, LatentSpaceError):
        message = exc.message
        if exc.code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            message = f"the gateway's token was refused by the server ({exc.message}); restart it with --token-file"
        return JSONResponse({"error": message, "code": exc.code}, status_code=status_of(exc))
    raise exc
