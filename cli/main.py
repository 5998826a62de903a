"""Entry point of the ``latentspace`` command: dispatches to the subcommand modules.

Subcommand modules import heavy libraries (torch, faiss, grpc) inside their ``run`` functions,
so ``latentspace --help`` and the client commands start quickly.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from latentspace.cli.common import CliError, explain
from latentspace.cli.openmp import prefer_sleeping_openmp_threads

# One module per group of subcommands; each has register(subparsers).
COMMAND_MODULES = (
    "latentspace.cli.index_cmd",
    "latentspace.cli.vectors_cmd",
    "latentspace.cli.eval_cmd",
    "latentspace.cli.serve_cmd",
    "latentspace.cli.client_cmds",
    "latentspace.cli.arith_cmds",
    "latentspace.cli.discover_cmd",
    "latentspace.cli.visual_cmds",
    "latentspace.cli.duplicates_cmd",
    "latentspace.cli.web_cmd",
    "latentspace.cli.featurevis_cmds",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latentspace",
        description="Search images by similarity and by direction in a CNN's embedding space.",
        epilog="Run `latentspace COMMAND --help` for the options of one command.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    prefer_sleeping_openmp_threads()  # before any subcommand loads torch or faiss
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; everything committed so far is kept", file=sys.stderr)
        return 130
    except CliError as exc:
        print(f"latentspace {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        message = explain(exc)
        if message is None:
            raise
        print(f"latentspace {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
