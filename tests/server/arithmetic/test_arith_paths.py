"""Shift and Walk: one row of neighbours per point, each equal to an exact NumPy search."""

from __future__ import annotations

import numpy as np
import pytest

from support.oracle import assert_hits, brute_force, unit

K = 4


def _shift_point(start: np.ndarray, direction: np.ndarray, alpha: float) -> np.ndarray:
    start = start.astype(np.float64)
    return start + alpha * np.linalg.norm(start) * unit(direction)[0]


@pytest.mark.parametrize("served", ["alex", "eff"])
def test_shift_rows_match_numpy_and_alpha_zero_is_plain_search(request, served):
    client, exported = request.getfixturevalue(served)
    ids, vectors = exported["ids"], exported["vectors"]
    start, start_id = vectors[0], int(ids[0])
    direction = vectors[5].astype(np.float64) - vectors[9]
    alphas = [0.0, 0.25, 0.5, 1.0, -0.5]
    result = client.shift(start_id, vector=direction.astype(np.float32), alphas=alphas, k=K)
    assert [s.position for s in result] == alphas
    plain = client.search(item_id=start_id, k=K)
    assert result[0].ids == plain.ids
    np.testing.assert_allclose(result[0].result.scores, plain.scores, atol=1e-5)
    for step in result:
        assert_hits(step.result, brute_force(exported, _shift_point(start, direction, step.position), k=K,
                                             exclude={start_id}))
    # include_start: at α = 0 the start item comes first, with cosine 1
    kept = client.shift(start_id, vector=direction.astype(np.float32), alphas=[0.0], k=K, include_start=True)
    assert kept[0].ids[0] == start_id and kept[0].result.scores[0] == pytest.approx(1.0, abs=1e-5)


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Great-circle direction from â to b̂, length moving linearly from ‖a‖ to ‖b‖ (Shoemake 1985)."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(a / na, b / nb), -1.0, 1.0))
    direction = (np.sin((1 - t) * omega) * a / na + np.sin(t * omega) * b / nb) / np.sin(omega)
    return direction * ((1 - t) * na + t * nb)


@pytest.mark.parametrize("served", ["alex", "eff"])
@pytest.mark.parametrize("slerp", [False, True], ids=["linear", "slerp"])
def test_walk_from_a_to_b_matches_numpy(request, served, slerp):
    client, exported = request.getfixturevalue(served)
    ids, vectors = exported["ids"], exported["vectors"]
    a, b = vectors[1].astype(np.float64), vectors[10].astype(np.float64)
    ends = {int(ids[1]), int(ids[10])}
    steps = 5
    result = client.walk(int(ids[1]), int(ids[10]), steps=steps, slerp=slerp, k=K)
    assert [s.position for s in result] == pytest.approx(np.linspace(0, 1, steps).tolist())
    for step in result:
        t = step.position
        point = _slerp(a, b, t) if slerp else (1 - t) * a + t * b
        assert_hits(step.result, brute_force(exported, point, k=K, exclude=ends))
    # with the ends kept, step 0 is A's own neighbourhood and the last step B's
    kept = client.walk(int(ids[1]), int(ids[10]), steps=steps, slerp=slerp, k=K, include_ends=True)
    for step, item in ((kept[0], int(ids[1])), (kept[-1], int(ids[10]))):
        plain = client.search(item_id=item, k=K, exclude_self=False)
        assert step.ids == plain.ids and step.ids[0] == item
        np.testing.assert_allclose(step.result.scores, plain.scores, atol=1e-5)


