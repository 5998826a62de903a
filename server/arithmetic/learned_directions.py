"""Directions learned by a linear probe between two sets of examples (TCAV / InterfaceGAN style),
with the held-out accuracy of the probe, beside the mean difference and the classifier rows.

Pure NumPy and scikit-learn. The examples are unit-normalised first, as for the mean difference
(cosine is what the index compares). Methods:

* ``probe`` (the default of ``direction create --probe``): a logistic regression of the positives
  against the negatives *and a seeded sample of the index* (half the weight each), its
  regularisation chosen by cross-validated log-loss on the examples, stored as its *activation
  pattern* a = Σ_corpus·w (Haufe et al. 2014, "On the interpretation of weight vectors of linear
  models"). A shifted picture's neighbours are ranked against the whole index, not against the
  negatives alone, so the direction has to raise the positives above the index's other images
  too; and a normal (a filter) points along whatever separates the sets best, often
  low-variance dimensions no image moves along, while the pattern is the direction in which the
  index's own images change as the probe rises. Both measured best in
  ``bench/direction_quality.py`` (see README).
* ``logistic``: the unit normal of an L2-regularised logistic regression's boundary.
* ``fisher``: the normal of Fisher's linear discriminant, w = (Σ_w + shrinkage)⁻¹ (μ₊ − μ₋),
  with the Ledoit–Wolf shrinkage scikit-learn estimates (few examples, many dimensions).
* ``whitened``: a logistic regression on the index's vectors PCA-whitened to
  :data:`WHITEN_COMPONENTS` components, mapped back to the index's space as its activation
  pattern.

Every method reports the accuracy of its probe on held-out examples (stratified k-fold): for
``probe``, whose boundary also sits against the index, each held-out example is called positive
when its score is nearer the training positives' mean score than the negatives'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from latentspace.server.errors import InvalidQuery

__all__ = ["BACKGROUND_ROWS", "LEARNED_METHODS", "Corpus", "LearnedDirection", "PROBE_C_GRID", "WHITEN_COMPONENTS",
           "WHITEN_SAMPLE", "background_sample", "corpus_pattern", "fit_direction", "sample_positions"]

LEARNED_METHODS: tuple[str, ...] = ("probe", "logistic", "fisher", "whitened")
WHITEN_COMPONENTS = 50
DEFAULT_FOLDS = 5
#: ``probe`` contrasts the positives with at most this many of the index's rows (a seeded sample).
BACKGROUND_ROWS = 2048
#: ``probe`` chooses its inverse regularisation strength C among these by held-out log-loss.
PROBE_C_GRID: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)
#: corpus_pattern() reads the corpus this many rows at a time.
_CHUNK_ROWS = 8192
#: PCA whitening is fitted on at most this many corpus rows (a seeded sample of a larger corpus).
WHITEN_SAMPLE = 20_000


@dataclass(frozen=True)
class Corpus:
    """The index's vectors as the probes read them, never all at once: ``chunks()`` yields the raw
    rows in a fixed order, chunk by chunk (the covariance pattern reads them twice), and
    ``sample(count, seed)`` returns a seeded sample of at most ``count`` rows (the whitening PCA)."""

    chunks: Callable[[], Iterable[np.ndarray]]
    sample: Callable[[int, int], np.ndarray]

    @classmethod
    def of(cls, corpus: Corpus | np.ndarray) -> Corpus:
        """A corpus over an array of rows (kept as it is), or ``corpus`` itself."""
        if isinstance(corpus, Corpus):
            return corpus
        rows = np.asarray(corpus)
        return cls(lambda: (rows[i: i + _CHUNK_ROWS] for i in range(0, len(rows), _CHUNK_ROWS)),
                   lambda count, seed: rows[sample_positions(len(rows), count, seed)])


def sample_positions(n: int, count: int, seed: int) -> np.ndarray:
    """Positions (ascending) of a seeded sample of ``count`` of ``n`` rows; all of them when n <= count."""
    if n <= count:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, count, replace=False))



@dataclass(frozen=True)
class LearnedDirection:
    """A unit direction (float32) and how well its probe separates held-out examples."""

    vector: np.ndarray
    method: str
    accuracy: float
    folds: int
    positives: int
    negatives: int

    def describe(self) -> str:
        return (f"{self.method} direction from {self.positives} positive and {self.negatives} negative examples; "
                f"held-out accuracy {self.accuracy:.1%} ({self.folds}-fold)")


def _unit(m: np.ndarray, what: str) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    if m.ndim != 2 or len(m) == 0:
        raise InvalidQuery(f"{what}: need a non-empty (count, d) array, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise InvalidQuery(f"{what}: contains NaN or inf")
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise InvalidQuery(f"{what}[{int(np.flatnonzero(norms[:, 0] == 0)[0])}]: vector is all zeros")
    return m / norms


def corpus_pattern(corpus: Corpus | np.ndarray, w: np.ndarray) -> np.ndarray:
    """Σ·w for the covariance Σ of the corpus's unit rows, in two chunked passes, without forming
    the d×d matrix or holding the corpus."""
    corpus = Corpus.of(corpus)
    w = np.asarray(w, dtype=np.float64)
    n, mean = 0, np.zeros(len(w))
    for chunk in corpus.chunks():
        mean += _unit_rows_safe(chunk).sum(axis=0)
        n += len(chunk)
    if n < 2:
        raise InvalidQuery("the index needs at least 2 items to estimate its covariance")
    mean /= n
    total, seen = np.zeros(len(w)), 0
    for chunk in corpus.chunks():
        z = _unit_rows_safe(chunk) - mean
        total += z.T @ (z @ w)
        seen += len(chunk)
    return total / (seen - 1)


def _unit_rows_safe(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)


class _Whitener:
    """PCA whitening fitted on the corpus's unit rows (at most :data:`WHITEN_SAMPLE`, seeded sample)."""

    def __init__(self, corpus: Corpus, components: int, seed: int) -> None:
        from sklearn.decomposition import PCA

        rows = _unit_rows_safe(corpus.sample(WHITEN_SAMPLE, seed))
        k = min(components, len(rows) - 1, rows.shape[1])
        if k < 1:
            raise InvalidQuery("the index needs at least 2 items to whiten its vectors")
        self.pca = PCA(n_components=k, whiten=True, random_state=seed).fit(rows)

    def transform(self, m: np.ndarray) -> np.ndarray:
        return self.pca.transform(m)

    def pattern(self, w: np.ndarray) -> np.ndarray:
        """The activation pattern in the original space of a weight vector on whitened vectors."""
        return self.pca.components_.T @ (np.sqrt(self.pca.explained_variance_) * w)


def background_sample(corpus: Corpus | np.ndarray, rows: int = BACKGROUND_ROWS, seed: int = 0) -> np.ndarray:
    """At most ``rows`` of the corpus's unit rows (a seeded sample, in index order), all-zero rows dropped.

    The examples may be among them: measured, excluding them changes nothing (they are a few of many).
    """
    sample = _unit_rows_safe(Corpus.of(corpus).sample(rows, seed))
    return sample[np.any(sample != 0, axis=1)]


def _classifier(method: str, c: float = 1.0):
    if method in ("logistic", "whitened", "probe"):
        from sklearn.linear_model import LogisticRegression

        balanced = None if method == "probe" else "balanced"  # probe weighs its rows itself
        return LogisticRegression(C=c, max_iter=5000, class_weight=balanced)
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto")


def _contrast(pos: np.ndarray, neg: np.ndarray, background: np.ndarray, c: float):
    """Logistic regression of ``pos`` against ``neg`` and ``background``, the positives weighing as
    much as the other two together and those two the same (mean weight per row 2)."""
    x = np.concatenate([pos, neg, background])
    y = np.r_[np.ones(len(pos), dtype=int), np.zeros(len(neg) + len(background), dtype=int)]
    weights = np.r_[np.full(len(pos), 1 / len(pos)), np.full(len(neg), 0.5 / len(neg)),
                    np.full(len(background), 0.5 / len(background))] * len(x)
    return _classifier("probe", c).fit(x, y, sample_weight=weights)


def _fit_probe(pos: np.ndarray, neg: np.ndarray, corpus: Corpus, folds: int, seed: int,
               grid: tuple[float, ...]) -> tuple[np.ndarray, float]:
    """The ``probe`` method's weights (before the pattern) and its held-out accuracy.

    C is the one of ``grid`` whose fits predict the held-out examples with the least
    log-loss (each side weighing the same); the accuracy reported is that C's.
    """
    from sklearn.model_selection import StratifiedKFold

    background = background_sample(corpus, seed=seed)
    x = np.concatenate([pos, neg])
    y = np.r_[np.ones(len(pos), dtype=int), np.zeros(len(neg), dtype=int)]
    side_weight = np.where(y == 1, 1 / len(pos), 1 / len(neg))
    loss = dict.fromkeys(grid, 0.0)
    correct = dict.fromkeys(grid, 0)
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        tp, tn = x[train][y[train] == 1], x[train][y[train] == 0]
        for c in grid:
            model = _contrast(tp, tn, background, c)
            p = np.clip(model.predict_proba(x[test])[:, 1], 1e-12, 1 - 1e-12)
            truth = y[test]
            loss[c] -= float((side_weight[test] * np.where(truth == 1, np.log(p), np.log(1 - p))).sum())
            score = model.decision_function(x[test])
            middle = (model.decision_function(tp).mean() + model.decision_function(tn).mean()) / 2
            correct[c] += int(((score > middle) == (truth == 1)).sum())
    best = min(grid, key=lambda c: (loss[c], c))
    w = _contrast(pos, neg, background, best).coef_[0].astype(np.float64)
    return w, correct[best] / len(y)


def fit_direction(positives: np.ndarray, negatives: np.ndarray, *, method: str = "probe",
                  corpus: Corpus | np.ndarray | None = None, folds: int = DEFAULT_FOLDS, seed: int = 0,
                  c_grid: tuple[float, ...] = PROBE_C_GRID) -> LearnedDirection:
    """Fit ``method`` between the sets and return its unit direction (positives' side positive).

    ``corpus`` (the index's vectors, raw: an array or a chunked :class:`Corpus`) is needed by
    ``probe`` and ``whitened``. At least two
    examples per side, so that each side is represented in a held-out fold. ``c_grid``: the
    regularisation strengths ``probe`` chooses among (one value fixes it).
    """
    if method not in LEARNED_METHODS:
        raise InvalidQuery(f"unknown learned direction method {method!r}; choose one of {', '.join(LEARNED_METHODS)}")
    pos, neg = _unit(positives, "positive examples"), _unit(negatives, "negative examples")
    if pos.shape[1] != neg.shape[1]:
        raise InvalidQuery(f"negative examples: dimension {neg.shape[1]} does not match {pos.shape[1]}")
    if len(pos) < 2 or len(neg) < 2:
        raise InvalidQuery(f"a learned direction needs at least 2 positive and 2 negative examples "
                           f"(to hold some out), got {len(pos)} and {len(neg)}")
    if method in ("probe", "whitened") and corpus is None:
        raise InvalidQuery(f"method {method!r} needs the index's vectors (corpus)")
    if corpus is not None and not isinstance(corpus, Corpus) and np.asarray(corpus).shape[1:] != pos.shape[1:]:
        raise InvalidQuery(f"the index's vectors have shape {np.asarray(corpus).shape[1:]}, the examples {pos.shape[1:]}")
    corpus = None if corpus is None else Corpus.of(corpus)
    if isinstance(folds, bool) or int(folds) != folds or folds < 2:
        raise InvalidQuery(f"folds must be an integer >= 2, got {folds!r}")
    if not c_grid or not all(np.isfinite(c) and c > 0 for c in c_grid):
        raise InvalidQuery(f"c_grid must hold positive finite values, got {c_grid!r}")
    used = min(int(folds), len(pos), len(neg))
    if method == "probe":
        w, accuracy = _fit_probe(pos, neg, corpus, used, seed, tuple(c_grid))
        w = corpus_pattern(corpus, w)
    else:
        x = np.concatenate([pos, neg])
        y = np.r_[np.ones(len(pos), dtype=int), np.zeros(len(neg), dtype=int)]
        whitener = _Whitener(corpus, WHITEN_COMPONENTS, seed) if method == "whitened" else None
        features = whitener.transform(x) if whitener else x
        accuracy = _held_out_accuracy(method, features, y, used, seed)
        w = _classifier(method).fit(features, y).coef_[0].astype(np.float64)
        if whitener:
            w = whitener.pattern(w)
    norm = np.linalg.norm(w)
    if not np.isfinite(norm) or norm <= 1e-12:
        raise InvalidQuery("the examples do not separate along any direction (the probe's weights are zero)")
    return LearnedDirection((w / norm).astype(np.float32), method, accuracy, used, len(pos), len(neg))


def _held_out_accuracy(method: str, x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> float:
    from sklearn.model_selection import StratifiedKFold

    correct = 0
    for train, test in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(x, y):
        correct += int((_classifier(method).fit(x[train], y[train]).predict(x[test]) == y[test]).sum())
    return correct / len(y)
