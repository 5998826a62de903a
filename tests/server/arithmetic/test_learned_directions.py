"""Learned directions: each method against an independent fit on seeded two-cluster data."""

from __future__ import annotations

import numpy as np
import pytest

from latentspace.server.errors import InvalidQuery
from latentspace.server.arithmetic.learned_directions import LEARNED_METHODS, corpus_pattern, fit_direction

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
    probe = fit_direction(POS, NEG, method="probe", corpus=CORPUS)
    fisher = fit_direction(POS, NEG, method="fisher")
    pattern = np.cov(u, rowvar=False) @ fisher.vector.astype(np.float64)
    np.testing.assert_allclose(probe.vector, pattern / np.linalg.norm(pattern), atol=1e-5)


def test_held_out_accuracy_is_lower_on_overlapping_sets():
    mixed = fit_direction(POS[:15], np.concatenate([POS[15:], NEG[:3]]), method="logistic")
    assert mixed.accuracy < 0.8


@pytest.mark.parametrize("kwargs, words", [
    ({"positives": POS[:1], "negatives": NEG}, "at least 2"),
    ({"positives": POS, "negatives": NEG, "method": "svm"}, "unknown"),
    ({"positives": POS, "negatives": NEG, "method": "probe"}, "corpus"),
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
