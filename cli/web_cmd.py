"""``latentspace web``: the browser page over a running server, through a small HTTP gateway.

Needs the ``web`` extra (Starlette and uvicorn); imports neither torch nor FAISS.
"""

from __future__ import annotations

import argparse
import sys

from latentspace.cli.client_cmds import _add_server_options
from latentspace.cli.common import CliError

DEFAULT_WEB_PORT = 8080


def add_upload_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-upload-mb", type=float, default=16.0,
                        help="largest image the page may upload, in MiB (default 16)")


def register(subparsers: argparse._SubParsersAction) -> None:
    web = subparsers.add_parser(
        "web", help="a web page to search a server's index in a browser",
        description="Serve one page and a JSON + PNG API (its JSON is what the commands print with --json) "
        "that talk to the gRPC server at --server, until Ctrl-C. Binds 127.0.0.1 unless --host says otherwise. "
        "`latentspace serve DIR --web-port N` starts the server and the page together.",
    )
    web.add_argument("--host", default="127.0.0.1", help="address the page listens on (default 127.0.0.1)")
    web.add_argument("--port", type=int, default=DEFAULT_WEB_PORT,
                     help=f"port of the page (default {DEFAULT_WEB_PORT}; 0 picks a free one and prints it)")
    add_upload_option(web)
    _add_server_options(web)
    web.set_defaults(run=run_web)


def gateway_config(server: str, args: argparse.Namespace, *, host: str, port: int, ca=None, token_file=None):
    try:
        from latentspace.web.config import GatewayConfig
    except ImportError as exc:
        raise CliError(f"the web page needs the web extra ({exc.name} is missing): pip install 'latentspace[web]'") from None
    try:
        return GatewayConfig(server=server, host=host, port=port, timeout=getattr(args, "timeout", 30.0), ca=ca,
                             token_file=token_file, max_upload_bytes=int(args.max_upload_mb * (1 << 20)))
    except ValueError as exc:
        raise CliError(str(exc)) from None


def run_web(args: argparse.Namespace) -> int:
    config = gateway_config(args.server, args, host=args.host, port=args.port, ca=args.ca, token_file=args.token_file)
    from latentspace.web.runner import Gateway

    try:
        gateway = Gateway(config)
    except (OSError, ValueError) as exc:  # a busy port, an unreadable --ca or --token-file
        raise CliError(str(exc)) from None
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        print(f"note: the page is open to every machine that reaches {args.host}; it has no login of its own",
              file=sys.stderr)
    print(f"web page on {gateway.url} (searching the server at {args.server}); Ctrl-C stops it", flush=True)
    gateway.run()
    return 0
