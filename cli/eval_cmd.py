"""``latentspace eval`` (neighbour precision of an index) and ``latentspace classify``."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from latentspace.cli.common import CliError, add_embedder_options, embedder_config


def register(subparsers: argparse._SubParsersAction) -> None:
    evaluate = subparsers.add_parser(
        "eval",
        help="precision@k of an index's neighbours against its labels",
        description="For every labelled item, the share of its k nearest neighbours (itself excluded) "
        "that carry its label; printed per label and overall, beside the chance level.",
    )
    evaluate.add_argument("index", type=Path, metavar="DIR")
    evaluate.add_argument("-k", type=int, default=5, help="neighbours per item (default 5)")
    evaluate.add_argument("--json", action="store_true", help="machine-readable output")
    evaluate.set_defaults(run=run_eval)

    classify = subparsers.add_parser(
        "classify",
        help="top ImageNet classes of images, from the embedder's own classifier head",
        description="Embed each image at the penultimate layer and apply the network's final layer.",
    )
    classify.add_argument("images", type=Path, nargs="+", metavar="IMAGE")
    classify.add_argument("--index", type=Path, metavar="DIR", help="use the embedder recorded in this index")
    add_embedder_options(classify, defaults_from_index=True)
    classify.add_argument("--top", type=int, default=5, help="classes per image (default 5)")
    classify.add_argument("--json", action="store_true", help="machine-readable output")
    classify.set_defaults(run=run_classify)


def run_eval(args: argparse.Namespace) -> int:
    from latentspace.indexer import IndexStore
    from latentspace.indexer.evaluate import precision_at_k

    if args.k < 1:
        raise CliError("-k must be at least 1")
    with IndexStore.open(args.index, readonly=True) as store:
        try:
            report = precision_at_k(store, args.k)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps(asdict(report), indent=2))
        return 0
    width = max([len(r.label) for r in report.labels] + [7])
    print(f"{'label':<{width}}  {'items':>6}  {'P@' + str(report.k):>6}  {'chance':>6}")
    for row in report.labels:
        print(f"{row.label:<{width}}  {row.items:>6}  {row.precision:>6.3f}  {row.chance:>6.3f}")
    print(f"{'overall':<{width}}  {report.items:>6}  {report.precision:>6.3f}  {report.chance:>6.3f}")
    return 0


def run_classify(args: argparse.Namespace) -> int:
    from latentspace.indexer import ImageRejected, decode_image, load_embedder
    from latentspace.indexer.manifest import Manifest
    from latentspace.indexer.store import MANIFEST

    recorded = Manifest.read(args.index / MANIFEST).embedder if args.index else None
    embedder = load_embedder(embedder_config(args, recorded), device=args.device)
    if not embedder.layer.penultimate:
        raise CliError(f"classification needs the penultimate layer; {embedder.layer.name} is not")
    results = {}
    for path in args.images:
        try:
            image = decode_image(path.read_bytes()).image
        except ImageRejected as exc:
            raise CliError(f"{path}: {exc}") from None
        results[str(path)] = embedder.classify(embedder.embed_images([image]), top=args.top)[0]
    if args.json:
        print(json.dumps({p: [{"class": c, "probability": round(pr, 6)} for c, pr in r] for p, r in results.items()}, indent=2))
        return 0
    if not embedder.identity.pretrained:
        print("note: untrained weights: these classes are meaningless")
    for path, classes in results.items():
        print(path)
        for name, probability in classes:
            print(f"  {probability:6.1%}  {name}")
    return 0
