"""``latentspace analogy|shift|walk|direction``: direction arithmetic against a running server.

A TERM names one point of the space, or a stored direction:

    id:17            the stored item 17
    vec:FILE.npy     a vector saved with numpy.save, shape (d,) or (1, d)
    dir:NAME         a stored direction (terms of analogy only)
    PATH             an image file, embedded by the server
    W*TERM           any of these with weight W (for example 0.5*id:17); the default is 1

Like the other client commands these import neither torch nor FAISS; failures print one line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

from latentspace.cli.client_cmds import _add_server_options, _client, _table, add_sheet_option, write_sheet
from latentspace.cli.common import CliError, read_vector
from latentspace.cli.search_options import add_search_options, group_rows, search_options

TERM_HELP = "id:N (a stored item), vec:FILE.npy, dir:NAME (a stored direction), or an image file; W*TERM weighs it"
POINT_HELP = "id:N (a stored item), vec:FILE.npy, or an image file"
_WEIGHT = re.compile(r"^([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\*(.+)$")


def parse_point(text: str):
    """A point TERM as a client Query: ``id:N``, ``vec:FILE.npy`` or an image file."""
    from latentspace.client import Query

    if text.startswith("id:"):
        try:
            return Query(item_id=int(text[3:]))
        except ValueError:
            raise CliError(f"{text}: the id after 'id:' must be an integer") from None
    if text.startswith("vec:"):
        return Query(vector=read_vector(Path(text[4:]), text))
    if text.startswith("dir:"):
        raise CliError(f"{text}: a direction is not a point; use it as a term of analogy, or with shift --direction")
    try:
        return Query(image=Path(text).read_bytes())
    except OSError as exc:
        raise CliError(f"{text}: cannot read this image ({exc.strerror or exc}); a term is {TERM_HELP}") from None


def parse_term(text: str):
    """A TERM as a client Term, with its optional ``W*`` weight."""
    from latentspace.client import Term

    weight = None
    match = _WEIGHT.match(text)
    if match and not Path(text).exists():
        weight, text = float(match.group(1)), match.group(2)
    if text.startswith("dir:"):
        if not text[4:]:
            raise CliError("dir: needs a direction name, as in dir:smile")
        return Term.named(text[4:], weight=weight)
    return Term(query=parse_point(text), weight=weight)


def _shown_path(path: str) -> str:
    """A path inside the current folder, relative to it; any other as stored."""
    if os.path.isabs(path):
        try:
            relative = Path(path).relative_to(Path.cwd())
            return relative.as_posix()
        except ValueError:
            return path
    return path


def _short(hit) -> str:
    name = Path(hit.path).name
    return f"{hit.label}/{name}" if hit.label else name


def register(subparsers: argparse._SubParsersAction) -> None:
    analogy = subparsers.add_parser(
        "analogy", help="items ranked by a combination of terms (A − B + C)",
        description="Rank the index by positive and negative terms. `latentspace analogy A B C` means A − B + C "
        "(what is to C as A is to B). Terms given as items are left out of the results. "
        f"A TERM is {TERM_HELP}.",
    )
    analogy.add_argument("terms", nargs="*", metavar="A B C", help="shorthand for -p A -n B -p C")
    analogy.add_argument("-p", "--positive", action="extend", nargs="+", default=[], metavar="TERM",
                         help="terms to move towards")
    analogy.add_argument("-n", "--negative", action="extend", nargs="+", default=[], metavar="TERM",
                         help="terms to move away from")
    analogy.add_argument("--method", default="add", choices=("add", "cosmul", "average", "best_score", "sum_scores"),
                         help="add: 3CosAdd; cosmul: 3CosMul; average / best_score / sum_scores: Qdrant's recommend "
                              "strategies (default add)")
    analogy.add_argument("--include-terms", action="store_true", help="keep the items given as terms in the results")
    add_search_options(analogy)
    _add_result_options(analogy)
    analogy.set_defaults(run=run_analogy)

    shift = subparsers.add_parser(
        "shift", help="neighbours along a direction, one row per strength",
        description="Neighbours of START + α·‖START‖·unit(direction) for each α: α = 0 is START itself, "
        "α = 1 moves as far as START is from the origin. Negative strengths: --alphas=-1,0,1.",
    )
    shift.add_argument("start", metavar="START", help=POINT_HELP)
    way = shift.add_mutually_exclusive_group(required=True)
    way.add_argument("--direction", metavar="NAME", help="a stored direction")
    way.add_argument("--vector", type=Path, metavar="FILE.npy", help="a raw direction saved with numpy.save")
    shift.add_argument("--alphas", default="0,0.5,1", help="comma-separated strengths (default 0,0.5,1)")
    shift.add_argument("--include-start", action="store_true", help="keep the start item in the rows")
    _add_result_options(shift)
    shift.set_defaults(run=run_shift)

    walk = subparsers.add_parser(
        "walk", help="neighbours on the way from one item or image to another",
        description="Neighbours of STEPS points from A to B (both included): step 0 shows A's neighbourhood, "
        "the last B's. The items A and B are left out unless --include-ends.",
    )
    walk.add_argument("a", metavar="A", help=POINT_HELP)
    walk.add_argument("b", metavar="B", help=POINT_HELP)
    walk.add_argument("--steps", type=int, default=6, help="points from A to B, both included (default 6)")
    walk.add_argument("--slerp", action="store_true",
                      help="follow the great circle between the directions instead of a straight line")
    walk.add_argument("--unique", action="store_true", help="leave out of each step the items shown before")
    walk.add_argument("--include-ends", action="store_true", help="keep the items A and B in the rows")
    _add_result_options(walk)
    walk.set_defaults(run=run_walk)

    direction = subparsers.add_parser("direction", help="create, list, show or delete named directions",
                                      description="Named directions are stored in the served index.")
    actions = direction.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create", help="compute and store a direction",
        description="From two example sets (mean of unit vectors minus mean of unit vectors), from two labels "
        "of the index (every item with A against every item with B), from two ImageNet classes of the "
        "network's classifier (row A minus row B; names as the model's categories spell them, any case), "
        "or from a raw vector.",
    )
    create.add_argument("name", metavar="NAME", help="1 to 64 characters of A-Z a-z 0-9 _ . -")
    source = create.add_mutually_exclusive_group()
    source.add_argument("--from-sets", action="store_true", help="from --positive and --negative examples")
    source.add_argument("--from-labels", nargs=2, metavar=("A", "B"), help="label A minus label B")
    source.add_argument("--from-classes", nargs=2, metavar=("A", "B"), help='class A minus class B, e.g. "tabby" "tiger"')
    source.add_argument("--from-vector", type=Path, metavar="FILE.npy", help="a vector saved with numpy.save")
    create.add_argument("--probe", nargs="?", const="probe", choices=("probe", "logistic", "fisher", "whitened"),
                        metavar="METHOD",
                        help="with -p/-n or --from-labels: fit a linear probe between the sets instead of the mean "
                             "difference, and report its held-out accuracy. METHOD: probe (default: a logistic "
                             "regression of the positives against the negatives and the index, as its activation "
                             "pattern over the index), logistic, fisher, whitened")
    create.add_argument("-p", "--positive", action="extend", nargs="+", default=[], metavar="POINT", help=POINT_HELP)
    create.add_argument("-n", "--negative", action="extend", nargs="+", default=[], metavar="POINT", help=POINT_HELP)
    listing = actions.add_parser("list", help="the stored directions")
    show = actions.add_parser("show", help="one stored direction")
    show.add_argument("name", metavar="NAME")
    show.add_argument("--out", type=Path, metavar="FILE.npy", help="save its vector (float32)")
    delete = actions.add_parser("delete", help="remove a stored direction")
    delete.add_argument("name", metavar="NAME")
    for parser, run in ((create, run_direction_create), (listing, run_direction_list), (show, run_direction_show),
                        (delete, run_direction_delete)):
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        _add_server_options(parser)
        parser.set_defaults(run=run)


def _add_result_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-k", type=int, default=10, help="results per row (default 10)")
    parser.add_argument("--label", action="append", default=[], metavar="L",
                        help="keep only items with this label (repeat for several)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_sheet_option(parser)
    _add_server_options(parser)


def _answer(args: argparse.Namespace, plain, sheet, *call_args, **options):
    """``plain(...)``, or with --sheet ``sheet(...)`` with its picture written; returns the result."""
    if args.sheet is None:
        return plain(*call_args, **options)
    drawn = sheet(*call_args, **options)
    write_sheet(drawn, args.sheet)
    return drawn.result


def run_analogy(args: argparse.Namespace) -> int:
    if args.terms and len(args.terms) != 3:
        raise CliError(f"give three terms A B C (meaning A − B + C), or use -p/-n; got {len(args.terms)}")
    positive = [parse_term(t) for t in ([args.terms[0], args.terms[2]] if args.terms else []) + args.positive]
    negative = [parse_term(t) for t in ([args.terms[1]] if args.terms else []) + args.negative]
    if not positive and not negative:
        raise CliError("give terms: A B C, or -p TERM... and/or -n TERM...")
    with _client(args) as client:
        result = _answer(args, client.combine, client.combine_sheet, positive, negative, method=args.method, k=args.k,
                         include_terms=args.include_terms, labels=args.label, **search_options(args))
    if args.json:
        print(json.dumps(_json_view().combine_json(result, args.method)))
        return 0
    if result.groups:
        print(_table(*group_rows(result, _shown_path)))
        return 0
    if not result.hits:
        print("no hits")
        return 0
    rows = [[str(i), str(h.id), f"{h.score:.6f}", h.label, _shown_path(h.path)] for i, h in enumerate(result.hits, 1)]
    print(_table(rows, ["#", "id", result.metric, "label", "path"]))
    return 0


def _json_view():
    """The shared JSON rendering, imported when a command prints JSON (it loads the client library)."""
    from latentspace.client import json_view

    return json_view


def _print_path(result, key: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_json_view().path_json(result, key)))
        return
    symbol = "α" if key == "alpha" else "t"
    positions = [f"{symbol}={s.position:.3g}" for s in result]
    width = max(map(len, positions), default=0)
    for position, step in zip(positions, result):
        found = ", ".join(f"{_short(h)} ({h.id}, {h.score:.3f})" for h in step.result.hits) or "no hits"
        print(f"{position:<{width}}  {found}")


def run_shift(args: argparse.Namespace) -> int:
    try:
        alphas = [float(a) for a in args.alphas.split(",") if a.strip()]
    except ValueError:
        raise CliError(f"--alphas {args.alphas!r}: give comma-separated numbers, as in 0,0.5,1") from None
    start = parse_point(args.start)
    vector = read_vector(args.vector, f"--vector {args.vector}") if args.vector is not None else None
    with _client(args) as client:
        result = _answer(args, client.shift, client.shift_sheet, start, direction=args.direction, vector=vector,
                         alphas=alphas, k=args.k, include_start=args.include_start, labels=args.label)
    _print_path(result, "alpha", args.json)
    return 0


def run_walk(args: argparse.Namespace) -> int:
    a, b = parse_point(args.a), parse_point(args.b)
    with _client(args) as client:
        result = _answer(args, client.walk, client.walk_sheet, a, b, steps=args.steps, slerp=args.slerp,
                         unique=args.unique, k=args.k, include_ends=args.include_ends, labels=args.label)
    _print_path(result, "t", args.json)
    return 0


def run_direction_create(args: argparse.Namespace) -> int:
    if args.probe and not args.from_labels and not args.from_classes and not args.from_vector:
        args.from_sets = True  # direction create NAME --probe -p ... -n ...
    if not (args.from_sets or args.from_labels or args.from_classes or args.from_vector):
        raise CliError("give a source: --from-sets (with -p/-n), --probe (with -p/-n), --from-labels, "
                       "--from-classes or --from-vector")
    if args.probe and (args.from_classes or args.from_vector):
        raise CliError("--probe learns from example sets (-p/-n) or --from-labels, not from classes or a vector")
    if (args.positive or args.negative) and not args.from_sets:
        raise CliError("--positive and --negative go with --from-sets")
    options = {"learned": args.probe} if args.probe else {}
    if args.from_sets:
        if not args.positive or not args.negative:
            raise CliError("--from-sets needs --positive POINT... and --negative POINT...")
        options |= {"positive": [parse_point(p) for p in args.positive],
                    "negative": [parse_point(p) for p in args.negative]}
    elif args.from_labels:
        options |= {"labels": tuple(args.from_labels)}
    elif args.from_classes:
        options = {"classes": tuple(args.from_classes)}
    else:
        options = {"vector": read_vector(args.from_vector, f"--from-vector {args.from_vector}")}
    with _client(args) as client:
        created = client.create_direction(args.name, **options)
    if args.json:
        print(json.dumps(_json_view().direction_json(created)))
    else:
        print(f"created direction {created.name} ({created.kind}, norm {created.norm:.4g}): {created.description}")
        if created.accuracy is not None:
            print(f"held-out accuracy of its probe: {created.accuracy:.1%}")
    return 0


def run_direction_list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        found = client.list_directions()
    if args.json:
        print(json.dumps(_json_view().directions_json(found)))
        return 0
    if not found:
        print("no directions stored")
        return 0
    print(_table([[d.name, d.kind, f"{d.norm:.4g}", _accuracy(d), d.description] for d in found],
                 ["name", "kind", "norm", "accuracy", "made from"]))
    return 0


def _accuracy(direction) -> str:
    """A learned direction's held-out probe accuracy as a percentage; "-" for the other kinds."""
    return "-" if direction.accuracy is None else f"{direction.accuracy:.1%}"


def run_direction_show(args: argparse.Namespace) -> int:
    import numpy as np

    with _client(args) as client:
        found = client.get_direction(args.name)
    if args.out is not None:
        np.save(args.out, np.asarray(found.vector, dtype=np.float32))
    if args.json:
        print(json.dumps(_json_view().direction_json(found)))
        return 0
    from datetime import datetime, timezone

    created = datetime.fromtimestamp(found.created_at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    rows = [["name", found.name], ["kind", found.kind], ["made from", found.description],
            ["vector", f"{found.dimension}-d, norm {found.norm:.6g}"], ["created", created]]
    if found.accuracy is not None:
        rows.insert(3, ["accuracy", f"{_accuracy(found)} held out (its probe's)"])
    if args.out is not None:
        rows.append(["saved to", str(args.out)])
    print("\n".join(f"{key:<10} {value}" for key, value in rows))
    return 0


def run_direction_delete(args: argparse.Namespace) -> int:
    with _client(args) as client:
        client.delete_direction(args.name)
    print(json.dumps({"deleted": args.name}) if args.json else f"deleted direction {args.name}")
    return 0
