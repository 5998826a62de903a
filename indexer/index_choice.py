"""``--faiss auto``: choose a FAISS index from the item count, the dimension and a memory budget.

Following the FAISS wiki ("Guidelines to choose an index", "Indexing 1M vectors") and autofaiss:
an exact Flat index while it is small and fits the budget; beyond that IVF with an HNSW coarse
quantiser (4·√n lists, a power of two) and PQ codes, with a PCA to 256 dimensions first for wide
vectors (the wiki's 4096-d CNN descriptors recipe). Candidates from a compressed index are
re-scored on the stored vectors, which is what brings recall back (SearchSettings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from latentspace.indexer.manifest import SearchSettings

__all__ = ["AutoPolicy", "IndexChoice", "choose_index", "parse_bytes"]


@dataclass(frozen=True)
class AutoPolicy:
    flat_max_items: int = 20000
    """Exact search scans every vector: ~25 ms per query at 20k × 4096-d on 2 cores."""
    memory_budget: int = 2 << 30
    """Bytes the FAISS index may take in RAM (the stored vectors are on disk, not counted)."""
    min_train_items: int = 4096
    """Fewer items than this never get a trained index, whatever the other limits say."""


@dataclass(frozen=True)
class IndexChoice:
    factory: str
    search: SearchSettings
    train_size: int
    """How many stored vectors to train on (a random sample); 0 for Flat."""
    reason: str


def parse_bytes(text: str) -> int:
    """``2G``, ``512M``, ``1.5GB``, ``100000`` → bytes."""
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}.get(value[-1:], 1)
    number = value[:-1] if value[-1:] in "KMGT" else value
    try:
        amount = float(number) * scale
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a size; write e.g. 2G, 512M or a number of bytes") from None
    if amount <= 0:
        raise ValueError(f"a size must be positive, got {text!r}")
    return int(amount)


def _pq_bytes(dim: int, budget_per_item: float) -> int | None:
    """The largest PQ code size up to 32 bytes that divides ``dim`` and, with its id, fits the budget.

    32 bytes with exact re-ranking of the candidates reaches recall@10 ≥ 0.95 (bench/scale.py);
    longer codes cost RAM and time for little.
    """
    for m in (32, 24, 16, 8, 4):
        if dim % m == 0 and m + 8 <= budget_per_item:
            return m
    return None


def choose_index(count: int, dim: int, policy: AutoPolicy = AutoPolicy()) -> IndexChoice:
    flat_bytes = count * dim * 4
    if count < max(policy.min_train_items, 1) or (count <= policy.flat_max_items and flat_bytes <= policy.memory_budget):
        return IndexChoice("Flat", SearchSettings(), 0,
                           f"{count} items of {dim}-d: exact search (Flat, {flat_bytes / 2**20:.0f} MiB in RAM) while the "
                           f"index holds at most {policy.flat_max_items} items")
    nlist = 2 ** max(4, round(math.log2(4 * math.sqrt(count))))
    nlist = min(nlist, 65536, max(16, count // 39))
    coarse = f"IVF{nlist}_HNSW32" if nlist >= 1024 else f"IVF{nlist}"
    reduced = 256 if dim > 512 else dim
    prefix = f"PCAR{reduced}," if reduced != dim else ""
    per_item = (policy.memory_budget - nlist * reduced * 4 - reduced * dim * 4) / max(count, 1)
    m = _pq_bytes(reduced, per_item)
    if m is None:
        raise ValueError(
            f"{count} items do not fit a memory budget of {policy.memory_budget / 2**20:.0f} MiB even with 4-byte "
            f"codes; raise --memory-budget"
        )
    factory = f"{prefix}{coarse},PQ{m}np"  # np: no polysemous training, minutes of annealing that re-ranking makes moot
    train = min(count, max(30 * nlist, 256 * 40), 131072)
    # Measured by bench/scale.py (CNN-like 4096-d vectors, k=10, exact re-ranking): at 1M items in
    # 4096 lists, 64 lists and 300 candidates gave recall@10 0.965, 128 and 500 gave 0.983, and
    # 1000 candidates 0.998 at three times the latency; at 100k, 16 lists and 100 candidates 0.987.
    nprobe = max(16, min(nlist // 64, 128))
    search = SearchSettings(nprobe=nprobe, ef_search=max(2 * nprobe, 64), candidates=400)
    ram = count * (m + 8) + nlist * reduced * 4
    return IndexChoice(
        factory, search, train,
        f"{count} items of {dim}-d: {factory} ({'PCA to ' + str(reduced) + '-d, ' if prefix else ''}{nlist} lists"
        f"{' found by HNSW' if nlist >= 1024 else ''}, {m}-byte PQ codes; about {ram / 2**20:.0f} MiB in RAM of a "
        f"{policy.memory_budget / 2**20:.0f} MiB budget), trained on {train} vectors; searches probe {nprobe} lists "
        f"and re-score {search.candidates} candidates exactly on the stored vectors",
    )
