"""The options of ``search`` and ``analogy`` beyond k: thresholds, paging, duplicates, MMR, groups.

One place declares the flags, turns them into the client's keywords and prints grouped answers,
so both commands read and show them alike (the server checks every value).
"""

from __future__ import annotations

import argparse

__all__ = ["add_search_options", "group_rows", "search_options"]


def add_search_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("refining the ranking")
    group.add_argument("--min-score", type=float, metavar="S",
                       help="keep hits scoring at least S (cosine and the combination scores; higher is better)")
    group.add_argument("--max-distance", type=float, metavar="D",
                       help="keep hits within squared L2 distance D (l2 indexes)")
    group.add_argument("--offset", type=int, default=0, metavar="N",
                       help="skip the first N hits, for paging (k + offset is limited by the server's max_k)")
    group.add_argument("--hide-duplicates", action="store_true",
                       help="collapse near-identical hits (cosine >= 0.9) to their best one")
    group.add_argument("--diversity", type=float, metavar="λ",
                       help="re-rank by maximal marginal relevance: 0 by relevance only .. 1 most diverse")
    group.add_argument("--group-by", choices=("label",), help="answer with groups: the best hits of the k best labels")
    group.add_argument("--group-size", type=int, default=0, metavar="N", help="hits per group with --group-by")


def search_options(args: argparse.Namespace) -> dict:
    """The client keywords of the flags given (none when none are)."""
    options = {"min_score": args.min_score, "max_distance": args.max_distance, "diversity": args.diversity}
    options = {key: value for key, value in options.items() if value is not None}
    if args.offset:
        options["offset"] = args.offset
    if args.hide_duplicates:
        options["hide_duplicates"] = True
    if args.group_by:
        options["group_by"] = args.group_by
        options["group_size"] = args.group_size if args.group_size else 3
    elif args.group_size:
        options["group_size"] = args.group_size  # the server says it needs --group-by
    return options


def group_rows(result, shown_path=str) -> tuple[list[list[str]], list[str]]:
    """Table rows of a grouped answer, and the header."""
    rows = [[g.label, str(rank), str(h.id), f"{h.score:.6f}", shown_path(h.path)]
            for g in result.groups for rank, h in enumerate(g.hits, 1)]
    return rows, ["label", "#", "id", result.metric, "path"]
