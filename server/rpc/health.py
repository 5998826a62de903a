"""The standard gRPC health service, with Watch streams that can be ended at shutdown.

A health Watch never ends on its own, so gRPC's graceful stop, which waits for every call,
would always wait its whole grace period, and cutting it short instead also cancels ordinary
calls that were accepted but had not started yet. Ending the Watch streams (after NOT_SERVING
has been sent on them) lets ``server.stop(grace)`` finish as soon as the real calls are answered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import grpc
from grpc_health.v1 import health

__all__ = ["ClosableHealthServicer"]


class _Once:
    """Forwards responses to a Watch stream, and its end (``None``) only once: ending twice is an error."""

    def __init__(self, send: Callable[[object], None]) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._ended = False

    def __call__(self, response: object) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = response is None
        self._send(response)

    def end(self) -> None:
        self(None)


class ClosableHealthServicer(health.HealthServicer):
    """``grpc_health``'s servicer plus :meth:`end_watches`."""

    def __init__(self) -> None:
        super().__init__()
        self._watch_lock = threading.Lock()
        self._watches: set[Callable[[], None]] = set()
        self._ending = False

    def Watch(self, request, context: grpc.ServicerContext, send_response_callback=None):
        if send_response_callback is None:  # a server without non-blocking streams: nothing to end
            return super().Watch(request, context)
        once = _Once(send_response_callback)
        super().Watch(request, context, once)
        with self._watch_lock:
            ending = self._ending
            if not ending:
                self._watches.add(once.end)
                context.add_callback(lambda: self._forget(once.end))
        if ending:
            once.end()
        return None

    def _forget(self, end: Callable[[], None]) -> None:
        with self._watch_lock:
            self._watches.discard(end)

    def end_watches(self) -> None:
        """End every Watch stream with status OK, now and from now on (call after NOT_SERVING)."""
        with self._watch_lock:
            self._ending = True
            ends, self._watches = list(self._watches), set()
        for end in ends:
            end()
