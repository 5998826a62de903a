"""Options that say how an index stores and searches vectors (``index``, ``import-vectors``, ``reindex``)."""

from __future__ import annotations

import argparse
import sys

from latentspace.cli.common import CliError

__all__ = ["add_storage_options", "auto_policy", "finish_auto_choice", "index_settings", "progress_bar"]


def add_storage_options(parser: argparse.ArgumentParser, *, creating: bool = True) -> None:
    group = parser.add_argument_group("storage and search")
    group.add_argument("--faiss", default=None, metavar="auto|FACTORY",
                       help="auto (default for a new index): exact Flat while small, beyond that IVF with an HNSW "
                            "coarse quantiser and PQ codes (PCA to 256-d first for wide vectors), re-chosen as the "
                            "index grows; or any FAISS factory string (Flat, IVF256,Flat, HNSW32, ...)")
    group.add_argument("--memory-budget", default="2G", metavar="SIZE",
                       help="RAM the FAISS index may take for --faiss auto, e.g. 2G, 512M (default 2G); the stored "
                            "vectors are memory-mapped from disk and not counted")
    if creating:
        group.add_argument("--vector-dtype", choices=("float32", "float16"), default=None,
                           help="how a new index stores vectors: float32 (exact, default) or float16 (half the "
                                "disk and page cache, rounded to 3 significant digits)")


def auto_policy(args: argparse.Namespace):
    from latentspace.indexer.index_choice import AutoPolicy, parse_bytes

    try:
        return AutoPolicy(memory_budget=parse_bytes(args.memory_budget))
    except ValueError as exc:
        raise CliError(f"--memory-budget: {exc}") from None


def index_settings(args: argparse.Namespace):
    from latentspace.indexer import IndexSettings

    return IndexSettings(metric=args.metric or "cosine", faiss_factory=args.faiss or "auto",
                         vector_dtype=args.vector_dtype or "float32", auto=auto_policy(args))


def progress_bar(enabled: bool):
    """A ``progress(stage, done, total)`` drawing one tqdm bar per stage (train, add)."""
    if not enabled:
        return None
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            label = {"train": "training FAISS on a sample", "add": "adding vectors to FAISS"}.get(stage, stage)
            bars[stage] = tqdm(total=total, desc=label, unit="vec", file=sys.stderr, leave=False)
        bars[stage].n = done
        bars[stage].refresh()
        if done >= total:
            bars.pop(stage).close()

    return progress


def finish_auto_choice(store, policy, *, progress: bool) -> None:
    """With --faiss auto: rebuild FAISS if the index has grown past what it was chosen for, and say why."""
    from latentspace.indexer.reindex import apply_auto_choice

    if store.manifest.faiss_request == "auto" and len(store) and store.auto_choice(policy) is not None:
        print("choosing a FAISS index for the new size ...", file=sys.stderr)
    choice = apply_auto_choice(store, policy, progress=progress_bar(progress))
    if choice is not None:
        print(f"--faiss auto: {choice.reason}", file=sys.stderr)
