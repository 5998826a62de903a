"""How well does a direction carry pictures across a concept? Cats shifted towards dogs.

On an index of the ImageNet sample photos (one per class; file names start with the WordNet id,
so sorted ids give the class number), directions are built from half of the cat photos (classes
281-293) and half of the dog photos (151-268), alternating by class, then each of the other cats
is shifted exactly as ``latentspace shift`` does (start + α·‖start‖·unit(direction)) and the
table shows the share of its top-5 neighbours that are dogs, the start and the direction's own
examples left out. Both halves take a turn at building (two folds); the last column block is
their mean. Directions: the mean difference (``direction create -p/-n``), the classifier rows
(mean final-layer row of the examples' dog classes minus that of their cat classes), the
learned ones of :mod:`latentspace.server.arithmetic.learned_directions` (held-out accuracy beside
them), and variants measured on the way to the ``probe`` method: activation patterns Σ·w of
other weights w and with other covariances Σ, and the probe at fixed regularisation strengths
(the real one chooses C by cross-validation on the examples, never on the evaluated cats).

Example::

    latentspace index --index /tmp/samples-index --model efficientnet-lite0 imagenet-samples
    python bench/direction_quality.py /tmp/samples-index
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from latentspace.indexer.embedders import EmbedderConfig, WeightsChoice, load_embedder
from latentspace.indexer.store import IndexStore
from latentspace.server.arithmetic.learned_directions import PROBE_C_GRID, corpus_pattern, fit_direction
from latentspace.server.arithmetic.trajectories import direction_from_sets, shift_points

CATS = range(281, 294)
DOGS = range(151, 269)
ALPHAS = (0.5, 1.0, 1.5, 2.0)
TOP = 5


def class_numbers(store: IndexStore, ids: np.ndarray) -> np.ndarray:
    items = store.items(ids.tolist())
    wnids = [os.path.basename(items[int(i)].path).split("_")[0] for i in ids]
    order = sorted(wnids)
    if len(set(order)) != len(order) or len(order) != 1000:
        sys.exit("expected one photo per ImageNet class (1000 files named by WordNet id)")
    return np.array([order.index(w) for w in wnids])


def dog_share(store: IndexStore, vectors: dict[int, np.ndarray], direction: np.ndarray, starts: list[int],
              examples: set[int], dogs: set[int]) -> list[float]:
    """Mean share of dogs among the top-5 neighbours of each shifted start, per α."""
    shares = np.zeros(len(ALPHAS))
    for start in starts:
        points = shift_points(vectors[start], direction, ALPHAS, max_steps=len(ALPHAS))
        _, hits = store.search(points, TOP, exclude_ids=[examples | {start}] * len(ALPHAS))
        shares += np.array([np.mean([int(h) in dogs for h in row]) for row in hits])
    return (shares / len(starts)).tolist()


def _unit(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


def pattern_variants(pos: np.ndarray, neg: np.ndarray, corpus: np.ndarray) -> dict[str, np.ndarray]:
    """Σ·w for other weights and covariances than the probe's (written out here, being comparisons)."""
    from sklearn.covariance import ledoit_wolf
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegressionCV

    p, n, u = _unit(pos), _unit(neg), _unit(corpus)
    x, y = np.concatenate([p, n]), np.r_[np.ones(len(p)), np.zeros(len(n))]
    fisher = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(x, y).coef_[0]
    with warnings.catch_warnings():  # scikit-learn's notices of coming defaults
        warnings.simplefilter("ignore", FutureWarning)
        logistic = LogisticRegressionCV(Cs=list(PROBE_C_GRID), cv=5, scoring="neg_log_loss", max_iter=5000,
                                        class_weight="balanced").fit(x, y).coef_[0]
    within = np.concatenate([p - p.mean(0), n - n.mean(0)])
    total = x - x.mean(0)
    difference = p.mean(0) - n.mean(0)
    return {
        "Fisher pattern, index Σ (old --probe)": corpus_pattern(corpus, fisher),
        "Fisher pattern, Ledoit-Wolf index Σ": ledoit_wolf(u)[0] @ fisher,
        "Fisher pattern, within-class Σ": within.T @ (within @ fisher),
        "Fisher pattern, examples' Σ": total.T @ (total @ fisher),
        "logistic (C by CV) pattern, index Σ": corpus_pattern(corpus, logistic),
        "mean difference pattern, index Σ": corpus_pattern(corpus, difference),
        "positives - index mean, pattern": corpus_pattern(corpus, p.mean(0) - u.mean(0)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path, help="index of the 1000 sample photos (cosine, penultimate layer)")
    args = parser.parse_args()
    with IndexStore.open(args.index, readonly=True) as store:
        ids, matrix = store.snapshot()
        classes = class_numbers(store, ids)
        info = store.manifest.embedder
        embedder = load_embedder(EmbedderConfig(model=info.model, layer=info.layer,
                                                weights=WeightsChoice.parse(info.weights)))
        weight, _ = embedder.classifier_weights()
        vectors = {int(i): v for i, v in zip(ids, matrix)}
        cat_ids = [int(i) for i in ids[np.argsort(classes)] if classes[ids.tolist().index(i)] in CATS]
        dog_ids = [int(i) for i in ids[np.argsort(classes)] if classes[ids.tolist().index(i)] in DOGS]
        class_of = {int(i): int(c) for i, c in zip(ids, classes)}
        rows: dict[str, list[list[float]]] = {}
        accuracy: dict[str, list[float]] = {}
        for fold in (0, 1):
            cats_in, cats_out, dogs_in = cat_ids[fold::2], cat_ids[1 - fold::2], dog_ids[fold::2]
            pos = np.stack([vectors[i] for i in dogs_in])
            neg = np.stack([vectors[i] for i in cats_in])
            directions = {
                "mean difference": direction_from_sets(pos, neg),
                "classifier rows": weight[[class_of[i] for i in dogs_in]].mean(0)
                - weight[[class_of[i] for i in cats_in]].mean(0),
            }
            directions.update(pattern_variants(pos, neg, matrix))
            learned_ones = [("logistic", "logistic normal", PROBE_C_GRID), ("fisher", "Fisher LDA normal", PROBE_C_GRID),
                            ("whitened", "whitened probe", PROBE_C_GRID)]
            learned_ones += [("probe", f"probe at C = {c:g}", (c,)) for c in PROBE_C_GRID]
            learned_ones.append(("probe", "probe, C by CV (--probe)", PROBE_C_GRID))
            for method, name, grid in learned_ones:
                learned = fit_direction(pos, neg, method=method, corpus=matrix, c_grid=grid)
                directions[name] = learned.vector
                accuracy.setdefault(name, []).append(learned.accuracy)
            examples = set(cats_in) | set(dogs_in)
            for name, direction in directions.items():
                rows.setdefault(name, []).append(
                    dog_share(store, vectors, direction, cats_out, examples, set(dog_ids)))
        folds = f"{len(cat_ids[0::2])}+{len(dog_ids[0::2])} / {len(cat_ids[1::2])}+{len(dog_ids[1::2])}"
    print(f"share of dogs among the top-{TOP} neighbours of shifted cats; {len(cat_ids)} cats, {len(dog_ids)} dogs; "
          f"examples per fold (cats+dogs) {folds}")
    head = " / ".join(f"{a:g}" for a in ALPHAS)
    print(f"{'direction':<38} {'held-out acc':>12}  {'fold 1, α = ' + head:<28} {'fold 2':<24} {'mean'}")
    for name, (a, b) in rows.items():
        acc = f"{np.mean(accuracy[name]):.2f}" if name in accuracy else "-"
        fmt = lambda r: " / ".join(f"{v:.2f}" for v in r)  # noqa: E731
        print(f"{name:<38} {acc:>12}  {fmt(a):<28} {fmt(b):<24} {fmt(np.mean([a, b], axis=0))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
