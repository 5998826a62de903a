"""What users ask of a ranked list beyond top-k: a score threshold, groups per label, pages,
near-duplicates hidden, and diversity (MMR). Pure NumPy over exact scores.

Every function takes the candidates best first, as the engine ranks them (exact scores; equal
scores by smaller id), and returns the *positions* of the hits to show, in the order to show
them, so a caller can carry along any aligned data (scores, ids, labels, paths). Each ``check_*``
function validates one request value where it enters and raises :class:`InvalidQuery`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from latentspace.server.errors import InvalidQuery
from latentspace.server.search.similarity import check_metric, similarities, unit_rows

__all__ = ["Threshold", "LabelGroup", "check_threshold", "faiss_radius", "within_threshold",
           "check_group_size", "group_by_label", "check_page", "page",
           "check_duplicate_threshold", "hide_duplicates", "check_diversity", "mmr"]

#: cosine at or above which two hits count as the same picture (as latentspace duplicates; clip-retrieval uses 0.94).
DEFAULT_DUPLICATE_THRESHOLD = 0.90


def _finite(value: float, what: str) -> float:
    if isinstance(value, bool):
        raise InvalidQuery(f"{what} must be a number, got {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InvalidQuery(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise InvalidQuery(f"{what} must be a finite number, got {value}")
    return value


def _count(value: int, what: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidQuery(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


# -- score threshold / range search ------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    """Keep hits with score >= value ("min_score") or squared distance <= value ("max_distance")."""

    kind: Literal["min_score", "max_distance"]
    value: float

    def keeps(self, scores: np.ndarray) -> np.ndarray:
        s = np.asarray(scores, dtype=np.float64)
        return s >= self.value if self.kind == "min_score" else s <= self.value


def check_threshold(*, min_score: float | None = None, max_distance: float | None = None,
                    metric: str) -> Threshold | None:
    """The threshold a request asks for, or None; the kind must suit the scores.

    ``metric`` is how the scores read: "cosine" (a similarity, higher better: min_score) or
    "l2" (a squared distance, lower better: max_distance).
    """
    check_metric(metric)
    if min_score is not None and max_distance is not None:
        raise InvalidQuery("give min_score or max_distance, not both")
    if min_score is not None:
        if metric == "l2":
            raise InvalidQuery("this search scores by squared L2 distance (lower is better): "
                               "use max_distance instead of min_score")
        return Threshold("min_score", _finite(min_score, "min_score"))
    if max_distance is not None:
        if metric == "cosine":
            raise InvalidQuery("this search scores by cosine similarity (higher is better): "
                               "use min_score instead of max_distance")
        value = _finite(max_distance, "max_distance")
        if value < 0:
            raise InvalidQuery(f"max_distance is a squared distance and cannot be negative, got {value}")
        return Threshold("max_distance", value)
    return None


def faiss_radius(threshold: Threshold, *, dim: int = 1, query_sq_norm: float = 0.0) -> float:
    """The radius for FAISS ``range_search``, widened so no hit that passes the exact check is
    missed: FAISS keeps inner products strictly above the radius and distances strictly below
    it, in float32. The widening bounds float32's error on ``dim`` products (d·2⁻²⁴ per unit of
    the terms' size, four times over; for l2 the size is the query's and a hit's squared norms,
    a hit lying within the radius of the query), and never less than 1e-5 relative. Always
    re-score the results exactly and filter them with :func:`within_threshold`."""
    v = np.float32(threshold.value)
    unit_error = 4.0 * max(int(dim), 1) * 2.0 ** -24
    if threshold.kind == "min_score":  # cosine: unit vectors, |q·x| <= 1
        slack = np.float32(max(1e-5 * max(1.0, abs(float(v))), unit_error))
        return float(np.nextafter(v - slack, np.float32(-np.inf)))
    q2, r = max(float(query_sq_norm), 0.0), float(v)
    size = q2 + (np.sqrt(q2) + np.sqrt(r)) ** 2 + r  # |q|² + the largest |x|² within the radius, + |q - x|²
    slack = np.float32(max(1e-5 * max(1.0, r), unit_error * size))
    return float(np.nextafter(v + slack, np.float32(np.inf)))


def within_threshold(scores: np.ndarray, threshold: Threshold | None, *, cap: int) -> np.ndarray:
    """Positions of the hits that meet ``threshold`` (all when None), at most ``cap``."""
    scores = np.asarray(scores)
    keep = np.arange(len(scores)) if threshold is None else np.flatnonzero(threshold.keeps(scores))
    return keep[: _count(cap, "result cap", minimum=1)]


# -- groups ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelGroup:
    """One label's best hits: ``positions`` into the candidate arrays, best first."""

    label: str
    positions: np.ndarray


def check_group_size(group_size: int, *, max_group_size: int) -> int:
    size = _count(group_size, "group_size", minimum=1)
    if size > max_group_size:
        raise InvalidQuery(f"group_size must be at most {max_group_size}, got {size}")
    return size


def group_by_label(labels: Sequence[str], *, groups: int, group_size: int) -> list[LabelGroup]:
    """The best ``group_size`` hits of each of the best ``groups`` labels (Qdrant's groups API).

    ``labels`` are the candidates' labels, best first. Labels are ordered by their best hit;
    unlabelled candidates ("") belong to no group, as Qdrant skips points without the field.
    A label with fewer candidates than ``group_size`` gives what it has: to fill every group,
    rank enough candidates (on a Flat index, all of them).
    """
    groups = _count(groups, "number of groups (k)", minimum=1)
    group_size = _count(group_size, "group_size", minimum=1)
    found: dict[str, list[int]] = {}
    for position, label in enumerate(labels):
        if not label:
            continue
        members = found.get(label)
        if members is None:
            if len(found) == groups:
                continue  # a label first seen after the k best labels is not shown
            members = found[label] = []
        if len(members) < group_size:
            members.append(position)
    return [LabelGroup(label, np.array(p, dtype=np.int64)) for label, p in found.items()]


# -- paging ------------------------------------------------------------------------------------


def check_page(k: int, offset: int, *, max_results: int) -> int:
    """How many hits to rank for page (k, offset): k + offset, which may not pass ``max_results``.

    Pages are consistent while the index is unchanged, because the ranking is deterministic
    (exact scores, equal scores by smaller id).
    """
    k = _count(k, "k", minimum=1)
    offset = _count(offset, "offset", minimum=0)
    if k + offset > max_results:
        raise InvalidQuery(f"offset {offset} with k {k} asks for hits {offset + 1} to {offset + k}, "
                           f"but at most the first {max_results} hits of a query can be paged "
                           f"(k + offset <= {max_results}); narrow the query instead")
    return k + offset


def page(count: int, *, k: int, offset: int) -> np.ndarray:
    """Positions of page (k, offset) among ``count`` ranked hits (fewer at the end, none past it)."""
    return np.arange(count, dtype=np.int64)[offset: offset + k]


# -- near-duplicates ---------------------------------------------------------------------------


def check_duplicate_threshold(threshold: float) -> float:
    value = _finite(threshold, "duplicate threshold")
    if not 0.0 < value <= 1.0:
        raise InvalidQuery(f"duplicate threshold is a cosine similarity in (0, 1], got {value}")
    return value


def hide_duplicates(vectors: np.ndarray, *, threshold: float = DEFAULT_DUPLICATE_THRESHOLD) -> np.ndarray:
    """Positions of the hits to show when near-identical hits collapse to their best one.

    Walking best first, a hit is hidden when its cosine with a hit already shown is at least
    ``threshold`` (cosine whatever the index metric: near-identical pictures are near-parallel
    in any embedding). ``vectors`` are the candidates' stored rows, best first.
    """
    threshold = check_duplicate_threshold(threshold)
    u = unit_rows(np.atleast_2d(vectors)) if len(vectors) else np.zeros((0, 0))
    shown: list[int] = []
    for i in range(len(u)):
        if shown and float((u[shown] * u[i]).sum(axis=1).max()) >= threshold:
            continue
        shown.append(i)
    return np.array(shown, dtype=np.int64)


# -- diversity ---------------------------------------------------------------------------------


def check_diversity(diversity: float) -> float:
    value = _finite(diversity, "diversity")
    if not 0.0 <= value <= 1.0:
        raise InvalidQuery(f"diversity must be in [0, 1] (0: by relevance only, 1: most diverse), got {value}")
    return value


def mmr(relevance: np.ndarray, vectors: np.ndarray, *, k: int, diversity: float, metric: str) -> np.ndarray:
    """Positions of ``k`` hits in maximal-marginal-relevance order (Carbonell & Goldstein, 1998).

    Each step takes the candidate maximising (1 − λ)·rel(d) − λ·max_{s chosen} sim(d, s), with
    λ = ``diversity`` (Carbonell and Goldstein's λ is 1 − diversity). ``relevance`` is the
    similarity to the query in the same metric, higher better: the cosine for "cosine", and
    −‖x − q‖² (the negated squared distance FAISS reports) for "l2"; sim between candidates is
    the metric's (:mod:`similarity`). diversity 0 keeps the input order; the first pick is
    always the most relevant; ties go to the earlier candidate.
    """
    check_metric(metric)
    lam = check_diversity(diversity)
    k = _count(k, "k", minimum=1)
    rel = np.asarray(relevance, dtype=np.float64)
    n = len(rel)
    take = min(k, n)
    if take == 0:
        return np.zeros(0, dtype=np.int64)
    if lam == 0.0:
        return np.arange(take, dtype=np.int64)
    sims = similarities(vectors, vectors, metric)
    chosen = [int(np.argmax(rel))]
    redundancy = sims[:, chosen[0]].copy()
    free = np.ones(n, dtype=bool)
    free[chosen[0]] = False
    while len(chosen) < take:
        value = np.where(free, (1.0 - lam) * rel - lam * redundancy, -np.inf)
        best = int(np.argmax(value))
        chosen.append(best)
        free[best] = False
        redundancy = np.maximum(redundancy, sims[:, best])
    return np.array(chosen, dtype=np.int64)
