"""``latentspace discover``: discovery and context search (Qdrant's discover) against a running server."""

from __future__ import annotations

import argparse
import json

from latentspace.cli.arith_cmds import TERM_HELP, _answer, _shown_path, parse_term
from latentspace.cli.client_cmds import _add_server_options, _client, _table, add_sheet_option
from latentspace.cli.search_options import add_search_options, group_rows, search_options


def register(subparsers: argparse._SubParsersAction) -> None:
    discover = subparsers.add_parser(
        "discover", help="items closer to each pair's positive than its negative, near a target",
        description="Rank items first by how many --context pairs they satisfy (closer to POS than to NEG), then "
        "by similarity to --target. Without --target, context search: items that violate the pairs least. "
        f"Items given as terms are left out of the results. A TERM is {TERM_HELP} (weights are not used).",
    )
    discover.add_argument("--target", metavar="TERM", help="what the results should be like (optional)")
    discover.add_argument("--context", nargs=2, action="append", default=[], metavar=("POS", "NEG"), required=True,
                          help="a pair: results closer to POS than to NEG (repeat for several, at most 16)")
    discover.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    discover.add_argument("--label", action="append", default=[], metavar="L",
                          help="keep only items with this label (repeat for several)")
    discover.add_argument("--include-terms", action="store_true", help="keep the items given as terms in the results")
    discover.add_argument("--json", action="store_true", help="machine-readable output")
    add_search_options(discover)
    add_sheet_option(discover)
    _add_server_options(discover)
    discover.set_defaults(run=run_discover)


def run_discover(args: argparse.Namespace) -> int:
    target = parse_term(args.target) if args.target is not None else None
    context = [(parse_term(p), parse_term(n)) for p, n in args.context]
    with _client(args) as client:
        result = _answer(args, client.discover, client.discover_sheet, target, context, k=args.k,
                         include_terms=args.include_terms, labels=args.label, **search_options(args))
    if args.json:
        from latentspace.client.json_view import discover_json

        print(json.dumps(discover_json(result)))
        return 0
    if result.groups:
        print(_table(*group_rows(result, _shown_path)))
        return 0
    if not result.hits:
        print("no hits")
        return 0
    rows = [[str(i), str(h.id), f"{h.score:.6f}", h.label, _shown_path(h.path)] for i, h in enumerate(result.hits, 1)]
    print(_table(rows, ["#", "id", "discovery", "label", "path"]))
    return 0
