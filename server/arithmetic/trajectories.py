"""Directions, and the trajectories that follow them: shifts along a direction, interpolations, walks.

Pure NumPy like :mod:`latentspace.server.arithmetic.scoring`; bad input is
:class:`~latentspace.server.errors.InvalidQuery`. Each point a trajectory yields is a query
vector: to show its neighbours, rank it as the single positive term of the ``average`` method,
which is then plain nearest-neighbour search under the index metric (cosine, or squared L2
ascending). The checks of strengths, step counts and modes are written here once; the engine
runs them where a request enters, before anything is embedded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from latentspace.server.arithmetic.scoring import unit_rows
from latentspace.server.config import ArithmeticLimits
from latentspace.server.errors import InvalidQuery

__all__ = [
    "MODES",
    "check_alphas",
    "check_mode",
    "check_steps",
    "direction_from_classifier",
    "direction_from_means",
    "direction_from_sets",
    "interpolate",
    "shift_points",
    "unit_mean",
    "walk_rows",
]

MODES = ("linear", "slerp")
#: Shifts further than this many start-lengths leave the region any image embeds to.
_MAX_ALPHA = ArithmeticLimits.max_alpha
#: Below this angle (radians) two directions count as parallel for slerp.
_PARALLEL = 1e-6


def check_alphas(alphas: Sequence[float], *, max_steps: int, max_alpha: float = _MAX_ALPHA) -> tuple[float, ...]:
    """1 to ``max_steps`` finite strengths, each within ±``max_alpha``."""
    a = np.asarray(alphas, dtype=np.float64)
    if a.ndim != 1 or not 1 <= a.shape[0] <= max_steps:
        raise InvalidQuery(f"alphas: give 1 to {max_steps} strengths, got {a.size}")
    for i, alpha in enumerate(a.tolist()):
        if not np.isfinite(alpha) or abs(alpha) > max_alpha:
            raise InvalidQuery(f"alphas[{i}]: strength {alpha} is outside [-{max_alpha:g}, {max_alpha:g}]")
    return tuple(a.tolist())


def check_steps(steps: int, *, max_steps: int) -> int:
    """A walk's number of points: an integer in [2, ``max_steps``] (its two ends included)."""
    if isinstance(steps, bool) or int(steps) != steps or not 2 <= steps <= max_steps:
        raise InvalidQuery(f"steps: must be an integer in [2, {max_steps}], got {steps!r}")
    return int(steps)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InvalidQuery(f"interpolation: unknown {mode!r}; choose linear or slerp")
    return mode


def _vector(label: str, v: np.ndarray, *, dim: int | None = None, nonzero: bool) -> np.ndarray:
    """``v`` as a finite 1-D float64 vector, or a InvalidQuery naming ``label``."""
    v = np.asarray(v, dtype=np.float64)
    if v.ndim != 1:
        raise InvalidQuery(f"{label}: must be 1-D, got shape {v.shape}")
    if dim is not None and v.shape[0] != dim:
        raise InvalidQuery(f"{label}: dimension {v.shape[0]} does not match {dim}")
    if not np.all(np.isfinite(v)):
        raise InvalidQuery(f"{label}: contains NaN or inf")
    if nonzero and not np.any(v):
        raise InvalidQuery(f"{label}: vector is all zeros, it has no direction")
    return v


def direction_from_sets(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """mean(unit(positives)) − mean(unit(negatives)): a concept direction from examples.

    Unit-normalising first stops a few long vectors from dominating the means.
    """
    sets = []
    for label, m in (("positives", positives), ("negatives", negatives)):
        m = np.asarray(m, dtype=np.float64)
        if m.ndim != 2 or m.shape[0] == 0:
            raise InvalidQuery(f"{label}: need a non-empty (count, d) array, got shape {m.shape}")
        if not np.all(np.isfinite(m)):
            raise InvalidQuery(f"{label}: contains NaN or inf")
        zero = np.flatnonzero(~np.any(m, axis=1))
        if len(zero):
            raise InvalidQuery(f"{label}[{zero[0]}]: vector is all zeros, it has no direction")
        sets.append(m)
    if sets[0].shape[1] != sets[1].shape[1]:
        raise InvalidQuery(f"negatives: dimension {sets[1].shape[1]} != {sets[0].shape[1]}")
    return direction_from_means(unit_rows(sets[0]).mean(axis=0), unit_rows(sets[1]).mean(axis=0))


def direction_from_means(positive_mean: np.ndarray, negative_mean: np.ndarray) -> np.ndarray:
    """positive_mean − negative_mean as float32, the means being of unit rows (:func:`unit_mean`)."""
    d = np.asarray(positive_mean, dtype=np.float64) - np.asarray(negative_mean, dtype=np.float64)
    if np.linalg.norm(d) <= 1e-12:
        raise InvalidQuery("positives and negatives have the same mean direction: no direction")
    return d.astype(np.float32)


def unit_mean(chunks: Iterable[np.ndarray]) -> tuple[np.ndarray | None, int]:
    """The mean of the unit-normalised non-zero rows of ``chunks`` and how many there were
    (None, 0 when none): summed chunk by chunk, so a label of any size is averaged in bounded memory."""
    total, count = None, 0
    for chunk in chunks:
        m = np.asarray(chunk, dtype=np.float64)
        m = m[m.any(axis=1)]  # a zero vector has no direction to average
        if len(m):
            total = unit_rows(m).sum(axis=0) + (0.0 if total is None else total)
            count += len(m)
    return (None if total is None else total / count), count


def direction_from_classifier(weight: np.ndarray, a: int, b: int) -> np.ndarray:
    """weight[a] − weight[b]: the direction that raises class a's logit over class b's."""
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 2:
        raise InvalidQuery(f"classifier weight must be (classes, d), got shape {w.shape}")
    for label, c in (("class a", a), ("class b", b)):
        if isinstance(c, bool) or int(c) != c or not 0 <= c < w.shape[0]:
            raise InvalidQuery(f"{label}: index {c!r} is not in [0, {w.shape[0]})")
    d = w[a] - w[b]
    if not np.all(np.isfinite(d)):
        raise InvalidQuery(f"classifier rows {a} and {b} contain NaN or inf")
    if np.linalg.norm(d) <= 1e-12:
        raise InvalidQuery(f"classes {a} and {b} have identical weights: no direction")
    return d.astype(np.float32)


def shift_points(
    start: np.ndarray,
    direction: np.ndarray,
    alphas: Sequence[float],
    *,
    max_steps: int,
    max_alpha: float = _MAX_ALPHA,
) -> np.ndarray:
    """Points start + α·‖start‖·unit(direction), one row per α, float32 (len(alphas), d).

    The direction is unit-normalised and scaled by the start's norm, so α reads as "a
    fraction of the start's length" whatever the network, layer or direction source:
    α = 0.5 moves half as far as the start is from the origin, α = 0 returns the start.
    """
    s = _vector("start", start, nonzero=True)
    d = _vector("direction", direction, dim=s.shape[0], nonzero=True)
    a = np.asarray(check_alphas(alphas, max_steps=max_steps, max_alpha=max_alpha), dtype=np.float64)
    step = d / np.linalg.norm(d) * np.linalg.norm(s)
    return (s[None, :] + a[:, None] * step[None, :]).astype(np.float32)


def interpolate(
    a: np.ndarray,
    b: np.ndarray,
    steps: int,
    mode: Literal["linear", "slerp"] = "linear",
    *,
    max_steps: int,
) -> np.ndarray:
    """``steps`` points from a to b, float32 (steps, d); row 0 is a and the last row is b.

    "linear": (1 − t)·a + t·b. "slerp": the direction moves along the great circle from
    â to b̂ at constant angular speed while the norm moves linearly from ‖a‖ to ‖b‖, so every
    point stays as long as the endpoints (a straight line cuts inside, towards the origin,
    where no image embeds). Near-parallel endpoints fall back to normalised linear
    directions; opposite endpoints have no unique great circle and are refused.
    """
    steps = check_steps(steps, max_steps=max_steps)
    check_mode(mode)
    va = _vector("a", a, nonzero=mode == "slerp")
    vb = _vector("b", b, dim=va.shape[0], nonzero=mode == "slerp")
    t = np.linspace(0.0, 1.0, int(steps))[:, None]
    if mode == "linear":
        out = (1.0 - t) * va + t * vb
    else:
        na, nb = np.linalg.norm(va), np.linalg.norm(vb)
        ua, ub = va / na, vb / nb
        omega = float(np.arccos(np.clip(ua @ ub, -1.0, 1.0)))
        if omega > np.pi - _PARALLEL:
            raise InvalidQuery("a and b point in opposite directions: slerp has no unique path")
        if omega < _PARALLEL:
            dirs = unit_rows((1.0 - t) * ua + t * ub)
        else:
            dirs = (np.sin((1.0 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
        out = dirs * ((1.0 - t) * na + t * nb)
    out[0], out[-1] = va, vb
    return out.astype(np.float32)


def walk_rows(
    steps: Sequence[tuple[np.ndarray, np.ndarray]], *, k: int, unique: bool = True
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-step (scores, ids) cut to ``k`` rows; with ``unique`` an id shown at an earlier
    step (or earlier in the same step) is dropped, so a walk keeps showing new images.

    Each step's input must be ranked best first (as ``rank`` returns it). To be sure of k
    rows at step i when unique, rank k·(i + 1) rows for it.
    """
    seen: set[int] = set()
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for scores, ids in steps:
        ids = np.asarray(ids, dtype=np.int64)
        keep: list[int] = []
        for j, item in enumerate(ids.tolist()):
            if len(keep) == k:
                break
            if unique:
                if item in seen:
                    continue
                seen.add(item)
            keep.append(j)
        out.append((np.asarray(scores)[keep], ids[keep]))
    return out
