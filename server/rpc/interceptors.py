"""What every call of the service goes through, around the servicer: four small interceptors.

* :class:`RequestContext` gives each call a request id (the client's ``x-request-id`` if sane,
  else a new one), returns it in trailing metadata, and reports method, status and duration to
  the request log and to an observer (the metrics); it is the outermost, so it sees every status.
* :class:`CallCounter` counts calls being handled (:class:`InFlight`), so shutdown and tests can
  wait for them; gRPC's ``maximum_concurrent_rpcs`` already refuses calls past the limit.
* :class:`RequestParsing` parses the request itself, so bytes that are not valid protobuf (a
  string field that is not UTF-8, say) are INVALID_ARGUMENT, not the INTERNAL gRPC would give.
* :class:`StatusMapping` turns the core's exceptions into status codes with the one table
  :data:`STATUS_OF`; anything else is INTERNAL and logged.

They act on the unary and the server-streaming methods of one service (health checks and
reflection pass untouched): around a stream, each acts on the whole iteration (a stream is counted
until its last message, its exceptions become its status, its duration is the stream's). They are
listed in that order, the token check (:mod:`~latentspace.server.rpc.auth`) right after
:class:`RequestContext`, the first being the outermost.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import DecodeError

from latentspace.server.errors import (
    AlreadyExists,
    Busy,
    Cancelled,
    DeadlineExceeded,
    EmptyIndex,
    InvalidQuery,
    NotFound,
    PreconditionFailed,
    ShuttingDown,
    StorageFull,
    TooLarge,
)
from latentspace.server.logs import REQUEST_ID, requests_log

__all__ = ["REQUEST_ID_KEY", "STATUS_OF", "CallCounter", "CallObserver", "InFlight", "RequestContext",
           "RequestParsing", "StatusMapping", "request_id_of", "status_of"]

log = logging.getLogger(__name__)

STATUS_OF: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (InvalidQuery, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (PreconditionFailed, grpc.StatusCode.FAILED_PRECONDITION),
    (EmptyIndex, grpc.StatusCode.FAILED_PRECONDITION),
    (TooLarge, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StorageFull, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Busy, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Cancelled, grpc.StatusCode.CANCELLED),
    (ShuttingDown, grpc.StatusCode.UNAVAILABLE),
    (DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    (NotImplementedError, grpc.StatusCode.UNIMPLEMENTED),  # an RPC in the .proto this server lacks
)
"""Core exceptions and the status each becomes; anything else is INTERNAL (and logged)."""

Behaviour = Callable[[object, grpc.ServicerContext], object]
StreamBehaviour = Callable[[object, grpc.ServicerContext], Iterator[object]]


def status_of(exc: BaseException) -> grpc.StatusCode | None:
    for kind, code in STATUS_OF:
        if isinstance(exc, kind):
            return code
    return None


def _method_name(method: str) -> str:
    """``Search`` of ``/latentspace.v1.LatentSpace/Search``."""
    return method.rsplit("/", 1)[-1]


class _MethodInterceptor(grpc.ServerInterceptor):
    """Wraps the behaviour of each unary-unary and unary-stream method of one service, once per method."""

    def __init__(self, service: str) -> None:
        self._prefix = f"/{service}/"
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
                          handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if (handler is None or not method.startswith(self._prefix) or handler.request_streaming
                or (handler.unary_unary if not handler.response_streaming else handler.unary_stream) is None):
            return handler
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            cached = (handler, self._wrap(method, handler))
            self._wrapped[method] = cached
        return cached[1]

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(self._around_stream(method, handler.unary_stream),
                                                        request_deserializer=handler.request_deserializer,
                                                        response_serializer=handler.response_serializer)
        return grpc.unary_unary_rpc_method_handler(self._around(method, handler.unary_unary),
                                                   request_deserializer=handler.request_deserializer,
                                                   response_serializer=handler.response_serializer)

    def _around(self, method: str, behaviour: Behaviour) -> Behaviour:
        raise NotImplementedError

    def _around_stream(self, method: str, behaviour: StreamBehaviour) -> StreamBehaviour:
        raise NotImplementedError


class InFlight:
    """Counts calls being handled, so shutdown can wait for them and no longer."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._count = 0
        self.refusing = False
        """Set once a stop has begun: new calls are answered UNAVAILABLE, not started."""

    def refuse_new(self) -> None:
        """From now on new calls are refused; those already counted run to their end."""
        self.refusing = True

    def __enter__(self) -> None:
        with self._cond:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._count -= 1
            self._cond.notify_all()

    @property
    def count(self) -> int:
        """Calls being handled right now."""
        with self._cond:
            return self._count

    def wait_idle(self, timeout: float | None) -> bool:
        """True once no call is being handled; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout=timeout)


class CallCounter(_MethodInterceptor):
    """Each call of the service is counted in ``in_flight`` from its parsing to its answer."""

    def __init__(self, service: str, in_flight: InFlight) -> None:
        super().__init__(service)
        self.in_flight = in_flight

    def _around(self, method: str, behaviour: Behaviour) -> Behaviour:
        in_flight = self.in_flight

        def counted(request: object, context: grpc.ServicerContext) -> object:
            if in_flight.refusing:  # the stop began: health says NOT_SERVING, so refuse at once
                context.abort(grpc.StatusCode.UNAVAILABLE, ShuttingDown.message)
            with in_flight:
                return behaviour(request, context)

        return counted

    def _around_stream(self, method: str, behaviour: StreamBehaviour) -> StreamBehaviour:
        in_flight = self.in_flight

        def counted(request: object, context: grpc.ServicerContext) -> Iterator[object]:
            if in_flight.refusing:
                context.abort(grpc.StatusCode.UNAVAILABLE, ShuttingDown.message)
            with in_flight:  # until the last message, or until a cancelled stream is closed
                yield from behaviour(request, context)

        return counted


class RequestParsing(_MethodInterceptor):
    """Parses requests here: bytes that are not a valid request message are INVALID_ARGUMENT."""

    def __init__(self, service: ServiceDescriptor) -> None:
        super().__init__(service.full_name)
        self._types = {m.name: m.input_type.full_name for m in service.methods}

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        parse = handler.request_deserializer
        if parse is None:  # already bytes in, bytes out: nothing to parse
            return handler
        name = _method_name(method)
        type_name = self._types.get(name, "request message")
        behaviour = handler.unary_stream if handler.response_streaming else handler.unary_unary

        def parsed(raw: bytes, context: grpc.ServicerContext) -> object:
            try:
                request = parse(raw)
            except DecodeError as exc:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"{name}: the request is not a valid {type_name} (is every string field valid UTF-8?): {exc}")
            return behaviour(request, context)  # a stream's iterator, for unary-stream methods

        make = grpc.unary_stream_rpc_method_handler if handler.response_streaming else grpc.unary_unary_rpc_method_handler
        return make(parsed, request_deserializer=None, response_serializer=handler.response_serializer)


class StatusMapping(_MethodInterceptor):
    """The core's exceptions become the status :data:`STATUS_OF` gives, with their message."""

    @staticmethod
    def _abort(name: str, exc: Exception, context: grpc.ServicerContext):
        code = status_of(exc)
        if code is None:
            log.exception("%s failed", name)
            context.abort(grpc.StatusCode.INTERNAL, f"{name}: internal error ({type(exc).__name__}); "
                                                    f"see the server log")
        context.abort(code, str(exc))

    def _around(self, method: str, behaviour: Behaviour) -> Behaviour:
        name = _method_name(method)

        def mapped(request: object, context: grpc.ServicerContext) -> object:
            try:
                return behaviour(request, context)
            except Exception as exc:
                self._abort(name, exc, context)

        return mapped

    def _around_stream(self, method: str, behaviour: StreamBehaviour) -> StreamBehaviour:
        name = _method_name(method)

        def mapped(request: object, context: grpc.ServicerContext) -> Iterator[object]:
            try:
                yield from behaviour(request, context)
            except Exception as exc:  # GeneratorExit (a stream closed early) is no Exception: it passes
                self._abort(name, exc, context)

        return mapped


REQUEST_ID_KEY = "x-request-id"
"""Metadata key of a call's request id, sent by the client (optional) and always in the trailers."""
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/-]{1,128}")

CallObserver = Callable[[str, str, float], None]
"""``observe(method, status_code_name, seconds)`` once per call answered."""


def request_id_of(metadata) -> str:
    """The client's ``x-request-id`` if it is 1-128 characters of ``A-Z a-z 0-9 . _ : / -``, else a new id."""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and _SANE_REQUEST_ID.fullmatch(value):
            return value
    return uuid.uuid4().hex


class RequestContext(_MethodInterceptor):
    """A request id per call (in the trailers and on every log line), one log line and one observation."""

    def __init__(self, service: str, observe: CallObserver | None = None) -> None:
        super().__init__(service)
        self._observe = observe

    def _begin(self, context: grpc.ServicerContext) -> tuple[str, object, float]:
        request_id = request_id_of(context.invocation_metadata())
        token = REQUEST_ID.set(request_id)
        context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
        return request_id, token, time.perf_counter()

    def _end(self, name: str, context: grpc.ServicerContext, begun: tuple[str, object, float], raised: str | None) -> None:
        """``raised``: the status to report when the call raised and set no code of its own."""
        request_id, token, start = begun
        seconds = time.perf_counter() - start
        code = context.code()  # an aborted call has set its code; gRPC answers others' raise UNKNOWN
        status = code.name if code is not None else raised or "OK"
        if self._observe is not None:
            self._observe(name, status, seconds)
        if requests_log.isEnabledFor(logging.INFO):
            requests_log.info("%s %s %.2f ms", name, status, seconds * 1000,
                              extra={"request_id": request_id, "method": name, "status": status,
                                     "duration_ms": round(seconds * 1000, 3)})
        REQUEST_ID.reset(token)

    def _around(self, method: str, behaviour: Behaviour) -> Behaviour:
        name = _method_name(method)

        def traced(request: object, context: grpc.ServicerContext) -> object:
            begun = self._begin(context)
            raised = None
            try:
                return behaviour(request, context)
            except BaseException:
                raised = "UNKNOWN"
                raise
            finally:
                self._end(name, context, begun, raised)

        return traced

    def _around_stream(self, method: str, behaviour: StreamBehaviour) -> StreamBehaviour:
        name = _method_name(method)

        def traced(request: object, context: grpc.ServicerContext) -> Iterator[object]:
            begun = self._begin(context)
            raised = None
            try:
                yield from behaviour(request, context)
            except GeneratorExit:  # gRPC dropped the stream: the client cancelled or its deadline passed
                raised = "CANCELLED"
                raise
            except BaseException:
                raised = "UNKNOWN"
                raise
            finally:
                self._end(name, context, begun, raised)

        return traced
