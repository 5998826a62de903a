"""A ranked list refined as a request's options ask: threshold, duplicates hidden, MMR, a page or groups.

The options are checked once, where a request enters (:func:`check_refinement`), against the
metric its scores read in; :func:`refine` then applies them, in that order, to candidates
already ranked best first on exact scores. Both are pure; the pieces are :mod:`.refine`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentspace.server.errors import InvalidQuery
from latentspace.server.search.queries import SearchOptions
from latentspace.server.search.refine import (
    Threshold,
    check_diversity,
    check_group_size,
    check_page,
    check_threshold,
    group_by_label,
    hide_duplicates,
    mmr,
    page,
    within_threshold,
)

__all__ = ["GROUP_BY", "VECTOR_POOL", "Pool", "Refinement", "check_refinement", "refine", "refine_pool"]

GROUP_BY: tuple[str, ...] = ("label",)

VECTOR_POOL = 512
"""Fewest ranked rows that hide_duplicates and diversity see when every row is scored (a Flat
index): both compare candidates with each other (MMR builds a P×P matrix), so the pool is
bounded: all rows of an index this small, the best ``max(candidates, VECTOR_POOL)`` beyond."""


@dataclass(frozen=True)
class Refinement:
    """Checked options beyond top-k; ``ranked`` is how many hits the page needs (k + offset)."""

    k: int
    offset: int
    threshold: Threshold | None
    hide_duplicates: bool
    diversity: float | None
    group_size: int | None
    """Set when the answer is groups by label."""

    @property
    def ranked(self) -> int:
        return self.k + self.offset


@dataclass(frozen=True)
class Pool:
    """How many best rows a refinement reads (None: every row) and whether it reads their vectors."""

    rows: int | None
    vectors: bool


def refine_pool(r: Refinement, *, candidates: int) -> Pool:
    """The ranked rows :func:`refine` needs to give what refining every row would give.

    A threshold and a page need only the first ``ranked`` rows (both keep a prefix); groups
    need every row's score (a label's members may sit anywhere), but not its vector; hiding
    duplicates and MMR read vectors and compare them pairwise, so they get a bounded pool of
    ``max(candidates, VECTOR_POOL)`` rows: exact below that many rows, the best of them above.
    """
    if r.hide_duplicates or r.diversity is not None:
        return Pool(max(int(candidates), VECTOR_POOL), True)
    if r.group_size is not None:
        return Pool(None, False)
    return Pool(r.ranked, False)


def check_refinement(options: SearchOptions, *, k: int, score_metric: str, max_k: int) -> Refinement:
    """``score_metric``: "l2" when lower scores are better, "cosine" when higher are."""
    threshold = check_threshold(min_score=options.min_score, max_distance=options.max_distance, metric=score_metric)
    check_page(k, options.offset, max_results=max_k)
    diversity = check_diversity(options.diversity) if options.diversity is not None else None
    group_size = None
    if options.group_by:
        if options.group_by not in GROUP_BY:
            raise InvalidQuery(f"group_by {options.group_by!r} is not known; choose one of {', '.join(GROUP_BY)}")
        group_size = check_group_size(options.group_size, max_group_size=max_k)
        if options.offset:
            raise InvalidQuery("offset pages plain hits, not groups: leave it 0 with group_by")
    elif options.group_size:
        raise InvalidQuery("group_size needs group_by=\"label\"")
    return Refinement(k, options.offset, threshold, options.hide_duplicates, diversity, group_size)


def refine(r: Refinement, scores: np.ndarray, vectors: np.ndarray, labels: list[str], *, lower_is_better: bool,
           metric: str) -> list[np.ndarray] | list[tuple[str, np.ndarray]]:
    """Positions of the hits to show, among candidates ranked best first; or (label, positions) groups.

    ``vectors`` are the candidates' stored rows, ``metric`` the index's (MMR compares hits with
    it); relevance for MMR is the score, negated when ``lower_is_better``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    keep = within_threshold(scores, r.threshold, cap=max(1, len(scores))) if len(scores) else np.zeros(0, np.int64)
    if r.hide_duplicates and len(keep):
        keep = keep[hide_duplicates(vectors[keep])]
    if r.diversity is not None and len(keep):
        relevance = -scores[keep] if lower_is_better else scores[keep]
        keep = keep[mmr(relevance, vectors[keep], k=r.ranked if r.group_size is None else len(keep),
                        diversity=r.diversity, metric=metric)]
    if r.group_size is not None:
        groups = group_by_label([labels[i] for i in keep], groups=r.k, group_size=r.group_size)
        return [(g.label, keep[g.positions]) for g in groups]
    return keep[page(len(keep), k=r.k, offset=r.offset)]
