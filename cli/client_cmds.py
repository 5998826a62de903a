"""``latentspace search|info|add|remove|embed``: talk to a running server through the client library.

These commands import neither torch nor FAISS, so they start quickly. Failures print one line
(``latentspace search: error: not found: no item with id 7``) and exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from latentspace.cli.common import CliError, read_vector
from latentspace.cli.search_options import add_search_options, group_rows, search_options

DEFAULT_SERVER = "127.0.0.1:50051"


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", default=os.environ.get("LATENTSPACE_SERVER", DEFAULT_SERVER), metavar="ADDR",
                        help=f"server address host:port (default: $LATENTSPACE_SERVER or {DEFAULT_SERVER})")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a call gives up (default 30)")
    parser.add_argument("--ca", type=Path, default=os.environ.get("LATENTSPACE_CA"), metavar="PEM",
                        help="connect with TLS, trusting this CA or self-signed certificate (default: $LATENTSPACE_CA)")
    parser.add_argument("--token-file", type=Path, default=os.environ.get("LATENTSPACE_TOKEN_FILE"), metavar="FILE",
                        help="send the bearer token in FILE with every call (default: $LATENTSPACE_TOKEN_FILE)")


def register(subparsers: argparse._SubParsersAction) -> None:
    search = subparsers.add_parser(
        "search", help="nearest neighbours of an image, a stored item or a vector",
        description="Ask a server for the k nearest items to IMAGE, to item --id, or to the vector in --vector.",
    )
    search.add_argument("image", nargs="?", type=Path, metavar="IMAGE", help="an image file to search with")
    search.add_argument("--id", type=int, dest="item_id", metavar="ID", help="search with a stored item's vector")
    search.add_argument("--vector", type=Path, metavar="FILE.npy", help="search with a vector saved by numpy.save")
    search.add_argument("-k", type=int, default=10, help="number of neighbours (default 10)")
    search.add_argument("--label", action="append", default=[], metavar="L",
                        help="keep only items with this label (repeat for several)")
    search.add_argument("--include-self", action="store_true", help="with --id, keep the item itself in the hits")
    search.add_argument("--json", action="store_true", help='print {"hits": [{"id", "score", "path", "label"}, ...]} '
                        '(and "groups": [{"label", "hits"}, ...] with --group-by)')
    add_search_options(search)
    add_sheet_option(search)
    _add_server_options(search)
    search.set_defaults(run=run_search)

    info = subparsers.add_parser("info", help="what a server's index holds and how it was made",
                                 description="Item count, dimension, model, weights, metric, FAISS use, limits, versions.")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    _add_server_options(info)
    info.set_defaults(run=run_info)

    add = subparsers.add_parser(
        "add", help="add image files to a server's index",
        description="Send image files to the server, which embeds them, keeps a copy in its index directory "
        "and commits them before answering. Each file's path is recorded as given when it is relative "
        "and inside the current folder, otherwise by its name.",
    )
    add.add_argument("files", nargs="+", type=Path, metavar="IMAGE")
    add.add_argument("--label", default="", help="label for every added image (default none)")
    add.add_argument("--json", action="store_true", help="machine-readable output")
    _add_server_options(add)
    add.set_defaults(run=run_add)

    remove = subparsers.add_parser("remove", help="remove items from a server's index by id",
                                   description="Remove items; if any id is unknown nothing is removed.")
    remove.add_argument("ids", nargs="+", type=int, metavar="ID")
    _add_server_options(remove)
    remove.set_defaults(run=run_remove)

    embed = subparsers.add_parser("embed", help="the embedding of an image, as the server computes it",
                                  description="Print an image's vector, or save it with --out for `search --vector`.")
    embed.add_argument("image", type=Path, metavar="IMAGE")
    embed.add_argument("--out", type=Path, metavar="FILE.npy", help="save the vector (float32) instead of printing it")
    embed.add_argument("--json", action="store_true", help='print {"dimension": d, "vector": [...]}')
    _add_server_options(embed)
    embed.set_defaults(run=run_embed)


def add_sheet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sheet", type=Path, metavar="OUT.png",
                        help="also write the contact sheet of the results, drawn by the server from its copies of "
                             "the images (its path is printed on stderr)")


def write_sheet(sheet, path: Path) -> None:
    """Save a sheet the server drew and say where, on stderr so stdout stays as without --sheet."""
    sheet.save(path)
    print(f"wrote sheet {path} ({sheet.width}×{sheet.height})", file=sys.stderr)


def _client(args: argparse.Namespace):
    from latentspace.client import Client

    try:
        return Client(args.server, timeout=args.timeout, ca=args.ca, token_file=args.token_file)
    except (OSError, ValueError) as exc:  # an unreadable --ca or --token-file
        raise CliError(str(exc)) from None


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def run_search(args: argparse.Namespace) -> int:
    given = [name for name, value in (("IMAGE", args.image), ("--id", args.item_id), ("--vector", args.vector))
             if value is not None]
    if len(given) != 1:
        raise CliError("give exactly one of IMAGE, --id ID or --vector FILE.npy" + (f" (got {', '.join(given)})" if given else ""))
    if args.include_self and args.item_id is None:
        raise CliError("--include-self only applies to --id searches")
    vector = read_vector(args.vector, f"--vector {args.vector}") if args.vector is not None else None
    with _client(args) as client:
        call = client.search_sheet if args.sheet is not None else client.search
        answer = call(args.image, item_id=args.item_id, vector=vector, k=args.k, exclude_self=not args.include_self,
                      labels=args.label, **search_options(args))
    result = answer.result if args.sheet is not None else answer
    if args.sheet is not None:
        write_sheet(answer, args.sheet)
    if args.json:
        from latentspace.client.json_view import search_json

        print(json.dumps(search_json(result)))
        return 0
    if result.groups:
        print(_table(*group_rows(result)))
        return 0
    if not result.hits:
        print("no hits")
        return 0
    what = "cosine" if result.metric == "cosine" else "sq. L2"
    rows = [[str(rank), str(h.id), f"{h.score:.6f}", h.label, h.path] for rank, h in enumerate(result.hits, 1)]
    print(_table(rows, ["#", "id", what, "label", "path"]))
    return 0


def _settings(info) -> str:
    """nprobe, efSearch and candidates, where the server reports them; they matter only to FAISS."""
    s = info.search
    if s is None:
        return ""
    applies = "" if info.uses_faiss else ", once FAISS searches"
    return f"; nprobe {s.nprobe}, efSearch {s.ef_search}, {s.candidates} candidates re-scored exactly{applies}"


def run_info(args: argparse.Namespace) -> int:
    with _client(args) as client:
        info = client.info()
    if args.json:
        from latentspace.client.json_view import info_json

        print(json.dumps(info_json(info), indent=2, sort_keys=True))
        return 0
    search = f"FAISS ({info.faiss_factory})" if info.uses_faiss else f"exact (FAISS {info.faiss_factory} not trained yet)"
    weights = f"{info.weights.choice}: {info.weights.description} (sha256 {info.weights.sha256[:12]}…)"
    rows = [
        ["items", str(info.item_count)],
        ["model", f"{info.model} {info.layer}, {info.dimension}-d, on {info.device}"],
        ["weights", weights + ("" if info.weights.pretrained else " UNTRAINED")],
        ["metric", info.metric],
        ["search", search + _settings(info)],
        ["limits", f"k ≤ {info.limits.max_k}, {info.limits.max_batch_queries} queries/batch, "
                   f"{info.limits.max_add_images} images/add, {info.limits.max_ids} ids/call, "
                   f"{info.limits.max_message_bytes / (1 << 20):g} MiB/message"],
        ["versions", ", ".join(f"{k} {v}" for k, v in sorted(info.versions.items()))],
    ]
    print("\n".join(f"{key:<9} {value}" for key, value in rows))
    return 0


def _metadata_path(file: Path) -> str:
    """The path to record: as given when relative and inside the current folder, else the name."""
    if file.is_absolute() or ".." in file.parts:
        return file.name
    return file.as_posix()


def run_add(args: argparse.Namespace) -> int:
    from latentspace.client import NewImage

    images = []
    for file in args.files:
        try:
            images.append(NewImage(file.read_bytes(), _metadata_path(file), args.label))
        except OSError as exc:
            raise CliError(f"cannot read {file}: {exc.strerror or exc}") from None
    with _client(args) as client:
        items = client.add_images(images)
    if args.json:
        from latentspace.client.json_view import added_json

        print(json.dumps(added_json(items)))
        return 0
    print(_table([[str(i.id), i.label, i.path] for i in items], ["id", "label", "path"]))
    print(f"added {len(items)} item{'s' if len(items) != 1 else ''}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    with _client(args) as client:
        removed = client.remove(args.ids)
    print(f"removed {len(removed)} item{'s' if len(removed) != 1 else ''}: {' '.join(map(str, removed))}")
    return 0


def run_embed(args: argparse.Namespace) -> int:
    import numpy as np

    try:
        data = args.image.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.image}: {exc.strerror or exc}") from None
    with _client(args) as client:
        vector = client.embed(data)
    if args.out is not None:
        np.save(args.out, np.asarray(vector, dtype=np.float32))
        print(f"wrote a {len(vector)}-d vector to {args.out}", file=sys.stderr)
    elif args.json:
        print(json.dumps({"dimension": len(vector), "vector": vector.tolist()}))
    else:
        print(" ".join(f"{v:.7g}" for v in vector.tolist()))
    return 0
