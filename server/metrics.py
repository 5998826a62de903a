"""Prometheus metrics of one server, and the HTTP endpoint that exposes them (``--metrics-port``).

prometheus_client is imported here and by ``server/app.py`` only: the core reports through the
:class:`~latentspace.server.search.events.ServingEvents` hook this class implements, and the gRPC
layer through :meth:`ServerMetrics.call_done`. Each server has its own registry, so several servers
in one process (tests) never mix their numbers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, start_http_server

from latentspace.server.search.events import ServingEvents

__all__ = ["MetricsEndpoint", "ServerMetrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServerMetrics(ServingEvents):
    """Calls, errors and latency per RPC; forward passes, index searches, queue depth, items, memory."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("latentspace_requests", "Calls answered, by RPC and status code",
                                ["method", "code"], registry=r)
        self.errors = Counter("latentspace_errors", "Calls answered with a status other than OK, by RPC and code",
                              ["method", "code"], registry=r)
        self.latency = Histogram("latentspace_request_seconds", "Time from a call's arrival to its answer, by RPC",
                                 ["method"], buckets=_LATENCY_BUCKETS, registry=r)
        self.forward_images = Histogram("latentspace_forward_batch_images", "Images in one forward pass",
                                        buckets=_BATCH_BUCKETS, registry=r)
        self.forward_seconds = Histogram("latentspace_forward_seconds", "Time of one forward pass",
                                         buckets=_LATENCY_BUCKETS, registry=r)
        self.search_queries = Histogram("latentspace_index_search_queries", "Query vectors in one index search",
                                        buckets=_BATCH_BUCKETS, registry=r)
        self.search_seconds = Histogram("latentspace_index_search_seconds", "Time of one index search",
                                        buckets=_LATENCY_BUCKETS, registry=r)
        self.queue = Gauge("latentspace_queue_depth", "Parts waiting for a batch worker, by stage", ["stage"],
                           registry=r)
        self.items = Gauge("latentspace_items", "Items in the index", registry=r)
        ProcessCollector(registry=r)  # process_resident_memory_bytes, process_cpu_seconds_total, ...

    def watch_items(self, count: Callable[[], int]) -> None:
        """Read the item count from ``count`` at each scrape."""
        self.items.set_function(count)

    def call_done(self, method: str, code: str, seconds: float) -> None:
        self.requests.labels(method, code).inc()
        if code != "OK":
            self.errors.labels(method, code).inc()
        self.latency.labels(method).observe(seconds)

    def forward_pass(self, images: int, seconds: float) -> None:
        self.forward_images.observe(images)
        self.forward_seconds.observe(seconds)

    def index_search(self, queries: int, seconds: float) -> None:
        self.search_queries.observe(queries)
        self.search_seconds.observe(seconds)

    def queue_depth(self, stage: str, depth: int) -> None:
        self.queue.labels(stage).set(depth)


class MetricsEndpoint:
    """``/metrics`` over HTTP on ``host:port`` (0 picks a free port) in a daemon thread."""

    def __init__(self, metrics: ServerMetrics, host: str, port: int) -> None:
        try:
            self._httpd, self._thread = start_http_server(port, addr=host, registry=metrics.registry)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot serve metrics on {host}:{port} ({exc.strerror}); "
                                     f"choose another --metrics-port (0 picks a free one)") from None
        self.port: int = self._httpd.server_port
        self._closed = threading.Lock()

    def close(self) -> None:
        if self._closed.acquire(blocking=False):
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
