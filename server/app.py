"""Starting and stopping the server: load the index and its embedder, listen, shut down cleanly.

``create_server`` returns a :class:`RunningServer` already answering on its port (tests use
port 0); ``serve`` runs one until SIGTERM or Ctrl-C. The health service says SERVING only once
the index and the model are loaded, and NOT_SERVING from the moment shutdown begins; calls in
flight then get ``grace_seconds`` to finish before the index is saved and closed.
"""

from __future__ import annotations

import errno
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from latentspace.indexer.embedders import Embedder, EmbedderConfig, WeightsChoice, load_embedder
from latentspace.indexer.precision import Precision
from latentspace.indexer.manifest import EmbedderInfo, Manifest
from latentspace.indexer.store import MANIFEST, IndexCorrupt, IndexStore
from latentspace.server.config import SearchTuning, ServerConfig
from latentspace.server.metrics import MetricsEndpoint, ServerMetrics
from latentspace.server.rpc.auth import HEALTH_METHODS, BearerTokenInterceptor, read_token, server_credentials
from latentspace.server.rpc.health import ClosableHealthServicer
from latentspace.server.rpc.interceptors import CallCounter, InFlight, RequestContext, RequestParsing, StatusMapping
from latentspace.server.rpc.servicer import SERVICE, SERVICE_NAME, LatentSpaceServicer
from latentspace.server.search.engine import SearchEngine

__all__ = ["RunningServer", "create_server", "load_index_embedder", "serve"]


def load_index_embedder(index_dir: Path, *, device: str = "auto", weights: WeightsChoice | None = None,
                        precision: Precision | None = None) -> Embedder | None:
    """The embedder the index's manifest names (model, layer, weights, precision), or with other ``weights``
    or ``precision`` (a precision other than the recorded one is then refused by the store).

    None for a vector-only index (``import-vectors --model none``): no model to load, and the
    server answers vector and item queries only."""
    index_dir = Path(index_dir)
    if not IndexStore.exists(index_dir):
        raise FileNotFoundError(f"{index_dir} is not a latentspace index (no {MANIFEST}); build one with `latentspace index`")
    try:
        recorded = Manifest.read(index_dir / MANIFEST).embedder
    except ValueError as exc:  # the refusal IndexStore.open would give, before a model is loaded
        raise IndexCorrupt(str(exc)) from None
    if recorded.vector_only:
        return None
    choice = weights if weights is not None else WeightsChoice.parse(recorded.weights)
    config = EmbedderConfig(model=recorded.model, layer=recorded.layer, weights=choice,
                            precision=precision or recorded.precision)
    return load_embedder(config, device=device)


class RunningServer:
    """A started server over one index; :meth:`stop` (or leaving a ``with`` block) shuts it down."""

    def __init__(self, server: grpc.Server, service: LatentSpaceServicer, health_servicer: ClosableHealthServicer,
                 port: int, config: ServerConfig, metrics: ServerMetrics | None = None,
                 metrics_endpoint: MetricsEndpoint | None = None) -> None:
        self.server = server
        self.metrics = metrics
        """The server's Prometheus metrics, when ``config.metrics_port`` is set."""
        self._metrics_endpoint = metrics_endpoint
        self.service = service
        self.engine = service.engine
        self.health = health_servicer
        self.port = port
        self.config = config
        self._stop_lock = threading.Lock()
        self._stopped = False

    @property
    def address(self) -> str:
        """``host:port`` with the port actually bound (useful when the config asked for port 0)."""
        return replace(self.config, port=self.port).address

    @property
    def metrics_address(self) -> str | None:
        """``host:port`` of the ``/metrics`` endpoint, or None without ``metrics_port``."""
        if self._metrics_endpoint is None:
            return None
        return replace(self.config, port=self._metrics_endpoint.port).address

    def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING, refuse new calls, let calls in flight finish within ``grace`` s, save and close."""
        grace = self.config.grace_seconds if grace is None else grace
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            self.health.enter_graceful_shutdown()  # NOT_SERVING, sent on every Watch stream
            self.service.in_flight.refuse_new()  # a caller who saw NOT_SERVING is refused from here on
            stopped = self.server.stop(grace)  # refuse new calls now; cancel whatever still runs after grace
            # Watch streams never end by themselves: end them, so that `stopped` is set as soon
            # as every call accepted before the stop (running or still queued) is answered.
            self.health.end_watches()
            stopped.wait()
            # Calls cancelled at the end of the grace period may still be running in their threads.
            self.engine.close(timeout=max(grace, 1.0))
            if self._metrics_endpoint is not None:
                self._metrics_endpoint.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _access(config: ServerConfig) -> tuple[list[grpc.ServerInterceptor], grpc.ServerCredentials | None]:
    """The token interceptor and TLS credentials the config asks for (files are read here)."""
    interceptors: list[grpc.ServerInterceptor] = []
    if config.token_file is not None:
        open_prefixes = () if config.token_for_health else (HEALTH_METHODS,)
        interceptors.append(BearerTokenInterceptor(read_token(config.token_file), open_prefixes=open_prefixes))
    credentials = None
    if config.tls_cert is not None and config.tls_key is not None:
        credentials = server_credentials(config.tls_cert, config.tls_key)
    return interceptors, credentials


def create_server(
    index_dir: Path,
    config: ServerConfig = ServerConfig(),
    *,
    embedder: Embedder | None = None,
    weights: WeightsChoice | None = None,
    precision: Precision | None = None,
) -> RunningServer:
    """Open ``index_dir`` with its embedder (loaded from the manifest unless given) and start serving.

    The embedder must be the one that built the index: model, layer, dimension and a hash of the
    weights are compared with the manifest, and a difference fails here, before listening.
    Token and TLS files are read first, so a bad one fails before anything is loaded.
    """
    access, credentials = _access(config)
    in_flight = InFlight()
    metrics = ServerMetrics() if config.metrics_port is not None else None
    interceptors = [RequestContext(SERVICE_NAME, metrics.call_done if metrics is not None else None),
                    *access, CallCounter(SERVICE_NAME, in_flight), RequestParsing(SERVICE), StatusMapping(SERVICE_NAME)]
    if embedder is None:
        embedder = load_index_embedder(index_dir, device=config.device, weights=weights, precision=precision)
    expect = EmbedderInfo.from_embedder(embedder) if embedder is not None else None
    store = IndexStore.open(Path(index_dir), expect=expect)
    if config.search != SearchTuning():
        store.tune(config.search.over(store.search_settings))
    engine = SearchEngine(store, embedder, config, **({"events": metrics} if metrics is not None else {}))
    endpoint = None
    try:
        if metrics is not None:
            metrics.watch_items(lambda: len(store))
            endpoint = MetricsEndpoint(metrics, config.host, config.metrics_port)
        server = grpc.server(
            ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix="latentspace-rpc"),
            options=[
                ("grpc.max_receive_message_length", config.max_message_bytes),
                ("grpc.max_send_message_length", config.max_message_bytes),
                ("grpc.so_reuseport", 0),  # a busy port must fail, not be silently shared
            ],
            maximum_concurrent_rpcs=config.max_concurrent_rpcs,
            interceptors=interceptors,
        )
        service = LatentSpaceServicer(engine, in_flight)
        service.add_to_server(server)
        health_servicer = ClosableHealthServicer()
        for name in ("", SERVICE_NAME):
            health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server
        )
        try:
            if credentials is not None:
                port = server.add_secure_port(config.address, credentials)
            else:
                port = server.add_insecure_port(config.address)
        except RuntimeError:  # grpc's message only says "Failed to bind"
            port = 0
        if port == 0:
            raise OSError(errno.EADDRINUSE, f"cannot listen on {config.address}: the port is in use or the host is "
                          f"not an address of this machine; choose another --port (0 picks a free one)")
        server.start()
    except BaseException:
        engine.close(timeout=0)
        if endpoint is not None:
            endpoint.close()
        raise
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, service, health_servicer, port, config, metrics, endpoint)


def serve(
    index_dir: Path,
    config: ServerConfig = ServerConfig(),
    *,
    weights: WeightsChoice | None = None,
    precision: Precision | None = None,
    on_ready: Callable[[RunningServer], None] | None = None,
    on_stopping: Callable[[RunningServer], None] | None = None,
) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully; returns the exit code (0).

    Must run in the main thread (signal handlers can only be installed there).
    """
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        running = create_server(index_dir, config, weights=weights, precision=precision)
        try:
            if on_ready is not None:
                on_ready(running)
            while not stop.wait(0.5):  # a timed wait lets the signal handler run promptly
                pass
            if on_stopping is not None:
                on_stopping(running)
        finally:
            running.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
