"""Learned directions: each method against an independent fit on seeded two-cluster data."""

from __future__ import annotations

import numpy as np
import pytest

from latentspace.server.errors import InvalidQuery
from latentspace.server.arithmetic.learned_directions import (
    LEARNED_METHODS, PROBE_C_GRID, background_sample, corpus_pattern, fit_direction,
)

rng = np.random.default_rng(5)
D = 12
AXIS = np.zeros(D)
AXIS[0] = 1.0
CENTRE = np.full(D, 3.0)
POS = CENTRE + AXIS * 1.5 + rng.normal(scale=0.4, size=(30, D))
NEG = CENTRE - AXIS * 1.5 + rng.normal(scale=0.4, size=(30, D))
CORPUS = np.concatenate([POS, NEG, CENTRE + rng.normal(scale=0.6, size=(200, D))])


def _unit(m):
    return m / np.linalg.norm(m, axis=1, keepdims=True)


@pytest.mark.parametrize("method", LEARNED_METHODS)
def test_every_method_points_from_negatives_to_positives_and_separates_them(method):
    found = fit_direction(POS, NEG, method=method, corpus=CORPUS)
    assert found.vector.dtype == np.float32 and np.linalg.norm(found.vector) == pytest.approx(1.0, abs=1e-6)
    gap = _unit(POS).mean(axis=0) - _unit(NEG).mean(axis=0)
    assert float(found.vector @ gap) > 0.5 * np.linalg.norm(gap)
    assert found.accuracy >= 0.95 and found.folds == 5
    assert (found.positives, found.negatives) == (30, 30)


def test_fisher_equals_the_shrunk_discriminant_written_out():
    """w = Σ_w⁻¹ (μ₊ − μ₋), Σ_w the prior-weighted class covariances, each Ledoit–Wolf shrunk on
    standardised features and scaled back (scikit-learn's recipe)."""
    from sklearn.covariance import ledoit_wolf

    def shrunk(m):
        scale = m.std(axis=0)
        return scale[:, None] * ledoit_wolf((m - m.mean(0)) / scale)[0] * scale[None, :]

    p, n = _unit(POS), _unit(NEG)
    within = 0.5 * shrunk(p) + 0.5 * shrunk(n)
    w = np.linalg.solve(within, p.mean(0) - n.mean(0))
    found = fit_direction(POS, NEG, method="fisher")
    np.testing.assert_allclose(found.vector, w / np.linalg.norm(w), atol=1e-5)


def test_corpus_pattern_is_the_covariance_times_the_weights():
    w = rng.normal(size=D)
    u = _unit(CORPUS)
    np.testing.assert_allclose(corpus_pattern(CORPUS, w), np.cov(u, rowvar=False) @ w, rtol=1e-9)


def test_probe_is_the_pattern_of_a_logistic_contrast_with_the_index_at_a_grid_c():
    """Σ·w, w a logistic regression of the positives (weight 1 a side) against the negatives and
    the index's rows (½ each), with one of the grid's C."""
    from sklearn.linear_model import LogisticRegression

    p, n, b = _unit(POS), _unit(NEG), _unit(CORPUS)  # the corpus is smaller than BACKGROUND_ROWS
    x = np.concatenate([p, n, b])
    y = np.r_[np.ones(len(p)), np.zeros(len(n) + len(b))]
    weights = np.r_[np.full(len(p), 1 / len(p)), np.full(len(n), 0.5 / len(n)), np.full(len(b), 0.5 / len(b))] * len(x)
    cov = np.cov(b, rowvar=False)
    candidates = []
    for c in PROBE_C_GRID:
        w = cov @ LogisticRegression(C=c, max_iter=5000).fit(x, y, sample_weight=weights).coef_[0]
        candidates.append(w / np.linalg.norm(w))
    probe = fit_direction(POS, NEG, method="probe", corpus=CORPUS).vector
    assert min(np.abs(probe - c).max() for c in candidates) < 1e-4


def test_probe_raises_the_positives_above_the_rest_of_the_index():
    """Images beyond the positives along the positive–negative axis but elsewhere in the index:
    a boundary between the examples alone ranks them above the positives, the probe does not."""
    side = np.zeros(D)
    side[1] = 1.0
    beyond = CENTRE + AXIS * 4.0 + side * 3.0 + rng.normal(scale=0.4, size=(100, D))
    corpus = np.concatenate([POS, NEG, beyond])

    def share_above_positives(direction):
        return float(np.mean(_unit(beyond) @ direction > np.median(_unit(POS) @ direction)))

    assert share_above_positives(fit_direction(POS, NEG, method="logistic").vector) > 0.5
    assert share_above_positives(fit_direction(POS, NEG, method="probe", corpus=corpus).vector) < 0.1


def test_background_sample_is_seeded_unit_and_bounded():
    many = rng.normal(size=(50, D))
    many[7] = 0.0
    sample = background_sample(many, rows=20, seed=3)
    assert sample.shape[0] <= 20 and np.allclose(np.linalg.norm(sample, axis=1), 1.0)
    np.testing.assert_array_equal(sample, background_sample(many, rows=20, seed=3))
    assert len(background_sample(many, rows=100)) == 49  # the all-zero row dropped


def test_held_out_accuracy_is_lower_on_overlapping_sets():
    mixed = fit_direction(POS[:15], np.concatenate([POS[15:], NEG[:3]]), method="logistic")
    assert mixed.accuracy < 0.8


@pytest.mark.parametrize("kwargs, words", [
    ({"positives": POS[:1], "negatives": NEG}, "at least 2"),
    ({"positives": POS, "negatives": NEG, "method": "svm"}, "unknown"),
    ({"positives": POS, "negatives": NEG, "method": "probe"}, "corpus"),
    ({"positives": POS, "negatives": NEG, "method": "probe", "corpus": CORPUS[:, :5]}, "shape"),
    ({"positives": np.zeros((3, D)), "negatives": NEG}, "all zeros"),
    ({"positives": POS, "negatives": NEG[:, :5]}, "dimension"),
    ({"positives": POS, "negatives": NEG, "method": "fisher", "folds": 1}, "folds"),
])
def test_bad_requests_are_refused(kwargs, words):
    with pytest.raises(InvalidQuery, match=words):
        fit_direction(**kwargs)


def test_chunked_corpus_and_label_means_equal_the_whole_arrays():
    from latentspace.server.arithmetic.learned_directions import Corpus, sample_positions
    from latentspace.server.arithmetic.trajectories import direction_from_means, direction_from_sets, unit_mean

    w = np.random.default_rng(1).normal(size=CORPUS.shape[1])
    chunked = Corpus(lambda: (CORPUS[i:i + 7] for i in range(0, len(CORPUS), 7)),
                     lambda count, seed: CORPUS[sample_positions(len(CORPUS), count, seed)])
    np.testing.assert_allclose(corpus_pattern(chunked, w), corpus_pattern(CORPUS, w), rtol=1e-10)
    whitened = fit_direction(POS, NEG, method="whitened", corpus=chunked)
    np.testing.assert_allclose(whitened.vector, fit_direction(POS, NEG, method="whitened", corpus=CORPUS).vector,
                               atol=1e-6)
    with_zero = np.vstack([POS, np.zeros((1, POS.shape[1]))])
    mean, used = unit_mean(with_zero[i:i + 4] for i in range(0, len(with_zero), 4))
    assert used == len(POS)
    np.testing.assert_allclose(direction_from_means(mean, unit_mean([NEG])[0]), direction_from_sets(POS, NEG),
                               atol=1e-6)
    assert unit_mean([np.zeros((3, 4))]) == (None, 0)
