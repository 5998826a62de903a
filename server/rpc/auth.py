"""Access control: TLS from a certificate and key, and a bearer token checked by one interceptor.

Both are optional and read once, before the index or the model is loaded, so a missing or bad
file stops ``latentspace serve`` at once. With a token, every call must carry the metadata
``authorization: Bearer <token>``; calls without it, or with another token, get UNAUTHENTICATED.
Health checks stay open unless asked otherwise, so load balancers and probes need no secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from pathlib import Path

import grpc

from latentspace.server.errors import AccessConfigError

__all__ = ["BearerTokenInterceptor", "HEALTH_METHODS", "read_token", "server_credentials"]

HEALTH_METHODS = "/grpc.health.v1.Health/"
"""Method-name prefix of the standard health service."""

_MAX_TOKEN_CHARS = 4096


def read_token(path: Path) -> str:
    """The token in ``path``: one line of printable ASCII without spaces (surrounding whitespace ignored)."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        token = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise AccessConfigError(f"token file {path} is not ASCII; a token is one line of printable ASCII") from None
    if not token:
        raise AccessConfigError(f"token file {path} is empty")
    if len(token) > _MAX_TOKEN_CHARS or not all(0x21 <= ord(ch) <= 0x7E for ch in token):
        raise AccessConfigError(f"token file {path} must hold one token: printable ASCII, no spaces, "
                                f"at most {_MAX_TOKEN_CHARS} characters")
    return token


def _pem(path: Path, what: str) -> bytes:
    data = Path(path).read_bytes()
    if b"-----BEGIN " not in data:
        raise AccessConfigError(f"{what} {path} is not a PEM file (no '-----BEGIN' line)")
    return data


def server_credentials(cert: Path, key: Path) -> grpc.ServerCredentials:
    """TLS credentials from a PEM certificate chain and its PEM private key."""
    return grpc.ssl_server_credentials([(_pem(key, "TLS key"), _pem(cert, "TLS certificate"))])


def _refusal(handler: grpc.RpcMethodHandler | None, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape as ``handler`` that answers UNAUTHENTICATED without reading the request."""

    def refuse(request, context: grpc.ServicerContext):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    request_streaming = handler is not None and handler.request_streaming
    response_streaming = handler is not None and handler.response_streaming
    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(request_streaming, response_streaming)]
    return make(refuse)


class BearerTokenInterceptor(grpc.ServerInterceptor):
    """Lets a call through only with ``authorization: Bearer <token>``; compares in constant time."""

    def __init__(self, token: str, *, open_prefixes: Sequence[str] = (HEALTH_METHODS,)) -> None:
        self._expected = f"Bearer {token}".encode("ascii")
        self._open = tuple(open_prefixes)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        if self._open and handler_call_details.method.startswith(self._open):
            return continuation(handler_call_details)
        values = [v for k, v in (handler_call_details.invocation_metadata or ()) if k == "authorization"]
        presented = values[0] if len(values) == 1 else ""
        if isinstance(presented, str):
            presented = presented.encode("utf-8", "replace")
        if hmac.compare_digest(presented, self._expected):
            return continuation(handler_call_details)
        message = ("this server needs a bearer token: send the metadata 'authorization: Bearer <token>' "
                   "(--token-file)" if not values else "the bearer token is not valid for this server")
        return _refusal(continuation(handler_call_details), message)
