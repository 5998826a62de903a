"""``latentspace serve``: answer searches over one index directory through gRPC."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latentspace.cli.common import CliError, add_precision_option
from latentspace.cli.web_cmd import add_upload_option, gateway_config


def register(subparsers: argparse._SubParsersAction) -> None:
    # Every default is ServerConfig's (a small module, no torch or gRPC): written once, shown in --help.
    from latentspace.server.config import MiB, ServerConfig

    d = ServerConfig()
    serve = subparsers.add_parser(
        "serve",
        help="serve an index over gRPC (search, embed, add, remove, info)",
        description="Load DIR and the embedder its manifest names, then serve it until SIGTERM or Ctrl-C, "
        "which let calls in flight finish (see --grace), save the index and exit 0. "
        "The address is printed once the server is SERVING.",
    )
    serve.add_argument("index", type=Path, metavar="DIR", help="index directory built by `latentspace index`")
    serve.add_argument("--host", default=d.host, help=f"address to listen on (default {d.host}; 0.0.0.0 for all)")
    serve.add_argument("--port", type=int, default=d.port,
                       help=f"port (default {d.port}; 0 picks a free one and prints it)")
    serve.add_argument("--device", default=d.device, choices=("auto", "cpu", "cuda"),
                       help=f"where the network runs (default: {d.device}, a GPU when there is one)")
    serve.add_argument("--weights", default=None, metavar="imagenet|random[:SEED]|PATH",
                       help="weights to load instead of those the manifest names (they must hash the same)")
    add_precision_option(serve)
    limits = serve.add_argument_group("limits")
    limits.add_argument("--max-k", type=int, default=d.max_k, help=f"most neighbours per query (default {d.max_k})")
    limits.add_argument("--max-batch-queries", type=int, default=d.max_batch_queries,
                        help=f"most queries per BatchSearch (default {d.max_batch_queries})")
    limits.add_argument("--max-add-images", type=int, default=d.max_add_images,
                        help=f"most images per AddImages (default {d.max_add_images})")
    limits.add_argument("--max-message-mb", type=float, default=d.max_message_bytes / MiB,
                        help=f"gRPC message size limit in MiB (default {d.max_message_bytes / MiB:g})")
    limits.add_argument("--grace", type=float, default=d.grace_seconds,
                        help=f"seconds calls in flight get at shutdown (default {d.grace_seconds:g})")
    limits.add_argument("--batch-window-ms", type=float, default=d.batch_window_ms,
                        help=f"how long image queries wait for others to share a forward pass "
                             f"(default {d.batch_window_ms:g})")
    limits.add_argument("--workers", type=int, default=d.max_workers,
                        help=f"threads answering calls (default {d.max_workers})")
    limits.add_argument("--max-concurrent-rpcs", type=int, default=d.max_concurrent_rpcs,
                        help=f"calls in progress or queued; past it new calls get RESOURCE_EXHAUSTED at once "
                             f"(default {d.max_concurrent_rpcs})")
    v = d.visualize
    limits.add_argument("--max-visualizations", type=int, default=v.max_concurrent,
                        help=f"Visualize optimisations running at once; one more gets RESOURCE_EXHAUSTED at once, "
                             f"cached answers need no slot (default {v.max_concurrent})")
    limits.add_argument("--max-visualize-steps", type=int, default=v.max_steps,
                        help=f"most optimisation steps of one Visualize (default {v.max_steps})")
    limits.add_argument("--max-visualize-size", type=int, default=v.max_size,
                        help=f"largest side in pixels of a Visualize image (default {v.max_size})")
    tuning = serve.add_argument_group(
        "search settings", "for an approximate index (IVF, HNSW): override for this run what its manifest records "
        "(`latentspace info` shows them). Candidates are re-scored exactly, so only recall and speed change")
    tuning.add_argument("--nprobe", type=int, metavar="N", help="IVF lists probed per query")
    tuning.add_argument("--ef-search", type=int, metavar="N", help="HNSW breadth of search")
    tuning.add_argument("--candidates", type=int, metavar="N",
                        help="neighbours gathered per query and re-scored (at least 10·k are)")
    observe = serve.add_argument_group("observing")
    observe.add_argument("--metrics-port", type=int, default=None, metavar="N",
                         help="serve Prometheus metrics at http://HOST:N/metrics (same host as --host; 0 picks a "
                              "free port and prints it); off by default")
    observe.add_argument("--log-format", choices=("text", "json"), default="text",
                         help="log lines on stderr as text (default) or one JSON object per line; each line "
                              "logged while answering a call carries its request id")
    observe.add_argument("--log-calls", action="store_true",
                         help="log one line per call answered: method, status, duration_ms, request_id "
                              "(default: warnings and errors only)")
    access = serve.add_argument_group("access", "TLS and a bearer token; both off by default (see docs/RELIABILITY.md)")
    access.add_argument("--tls-cert", type=Path, metavar="PEM", help="serve TLS with this certificate chain")
    access.add_argument("--tls-key", type=Path, metavar="PEM", help="the private key of --tls-cert")
    access.add_argument("--token-file", type=Path, metavar="FILE",
                        help="every call must send 'authorization: Bearer <token>' with the token in FILE")
    access.add_argument("--token-for-health", action="store_true",
                        help="health checks need the token too (default: open, for probes)")
    web = serve.add_argument_group("web page", "also serve the browser page in this process (needs the web extra)")
    web.add_argument("--web-port", type=int, metavar="N",
                     help="serve the page on this port too (0 picks a free one); its address is printed")
    web.add_argument("--web-host", default="127.0.0.1", help="address the page listens on (default 127.0.0.1)")
    add_upload_option(web)
    serve.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from latentspace.indexer.embedders import WeightsChoice
    from latentspace.server.app import serve
    from latentspace.server.config import MiB, SearchTuning, ServerConfig, VisualizeLimits
    from latentspace.server.logs import configure_logging

    try:
        config = ServerConfig(
            host=args.host, port=args.port, device=args.device, max_k=args.max_k,
            max_batch_queries=args.max_batch_queries, max_add_images=args.max_add_images,
            max_message_bytes=int(args.max_message_mb * MiB), grace_seconds=args.grace,
            batch_window_ms=args.batch_window_ms, max_workers=args.workers,
            max_concurrent_rpcs=args.max_concurrent_rpcs, tls_cert=args.tls_cert, tls_key=args.tls_key,
            token_file=args.token_file, token_for_health=args.token_for_health,
            metrics_port=args.metrics_port,
            visualize=VisualizeLimits(max_concurrent=args.max_visualizations, max_steps=args.max_visualize_steps,
                                      max_size=args.max_visualize_size),
            search=SearchTuning(nprobe=args.nprobe, ef_search=args.ef_search, candidates=args.candidates),
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    weights = WeightsChoice.parse(args.weights) if args.weights else None
    if args.web_port is not None:  # fail on a bad --web-port or a missing extra before loading the index
        gateway_config("127.0.0.1:0", args, host=args.web_host, port=args.web_port)
    gateways = []

    def start_web(running) -> None:
        """The gateway calls the server as any client does: over its TLS (trusting --tls-cert, as for a
        self-signed certificate of this host) and with its token."""
        from latentspace.web.runner import Gateway

        config = gateway_config(running.address, args, host=args.web_host, port=args.web_port, ca=args.tls_cert,
                                token_file=args.token_file)
        gateway = Gateway(config).start()
        gateways.append(gateway)
        print(f"web page on {gateway.url}", flush=True)

    configure_logging(args.log_format, calls=args.log_calls)

    def ready(running) -> None:
        info = running.engine.info()
        vector_only = running.engine.embedder is None
        if vector_only:
            print("note: a vector-only index: no model is loaded, so queries give vectors or item ids, "
                  "never images", file=sys.stderr)
        elif not info.pretrained:
            print(f"note: serving UNTRAINED weights ({info.weights_description}); "
                  "neighbours are not semantically meaningful", file=sys.stderr)
        if config.token_file is not None and config.tls_cert is None and config.host not in ("127.0.0.1", "::1", "localhost"):
            print("note: the bearer token travels unencrypted without --tls-cert/--tls-key", file=sys.stderr)
        search = f"FAISS {info.faiss_factory}" if info.uses_faiss else "exact search"
        access = ("TLS" if config.tls_cert else "plaintext") + (", token required" if config.token_file else "")
        if running.metrics_address is not None:
            print(f"metrics at http://{running.metrics_address}/metrics", file=sys.stderr, flush=True)
        model = (f"vectors only, {info.dimension}-d" if vector_only else
                 f"{info.model} {info.layer} {info.dimension}-d")
        place = "no model" if vector_only else f"model on {info.device}"
        print(f"serving {args.index} ({info.item_count} items, {model}, {info.metric}, {search}, {place}, {access}) "
              f"on {running.address}", flush=True)
        if args.web_port is not None:
            start_web(running)

    def stopping(running) -> None:
        for gateway in gateways:
            gateway.stop()
        print(f"stopping: calls in flight get up to {running.config.grace_seconds:g} s, then the index is saved",
              file=sys.stderr, flush=True)

    try:
        return serve(args.index, config, weights=weights, precision=args.precision, on_ready=ready,
                     on_stopping=stopping)
    finally:
        for gateway in gateways:
            gateway.stop()
