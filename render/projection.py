"""Stored vectors to 2-D points, fast enough for 100k items on two cores.

``umap`` (the default): rows L2-normalised when the index is cosine, then PCA to 50 dimensions,
then UMAP (n_neighbors 15, min_dist 0.1, seeded, so the same vectors give the same map). Past
``sample`` items UMAP is fitted on a seeded random sample and the other points are placed by
``UMAP.transform`` in chunks; a fit costs far more than a transform, so this keeps 100k items to
minutes. ``pca`` is the first two principal components: instant, crude, good for tests.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np

__all__ = ["Projection", "pca_basis", "project_2d"]

Projection = Literal["umap", "pca"]

PCA_DIMS = 50
DEFAULT_SAMPLE = 20_000
_CHUNK = 5_000


def pca_basis(vectors: np.ndarray, dims: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(mean (d,), components (k, d))`` of ``vectors (n, d)``, largest variance first, ``k = min(dims, n, d)``.

    Exact (an SVD of the data when n < d, else the ``d × d`` covariance's eigenvectors) up to
    2048 dimensions; past that (AlexNet's 4096, many items) a seeded randomized SVD, which costs
    ``O(n·d·k)`` instead of ``O(d³)``.
    """
    data = np.asarray(vectors, dtype=np.float64)
    n, d = data.shape
    mean = data.mean(axis=0)
    centred = data - mean
    k = min(dims, n, d)
    if n < d and n <= 2048:
        components = np.linalg.svd(centred, full_matrices=False)[2][:k]
    elif d <= 2048:
        values, vecs = np.linalg.eigh(centred.T @ centred)
        components = vecs[:, np.argsort(values)[::-1][:k]].T
    else:
        from sklearn.utils.extmath import randomized_svd

        components = randomized_svd(centred, k, n_iter=7, random_state=seed)[2]
    # Singular vectors' signs are arbitrary: fix them so the same data always gives the same map.
    signs = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    return mean.astype(np.float32), (components * signs[:, None]).astype(np.float32)


def _apply(vectors: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    out = np.empty((len(vectors), len(components)), dtype=np.float32)
    for start in range(0, len(vectors), 20_000):
        out[start : start + 20_000] = (vectors[start : start + 20_000] - mean) @ components.T
    return out


def project_2d(
    vectors: np.ndarray,
    *,
    method: Projection = "umap",
    normalise: bool = True,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """2-D points ``(n, 2)`` float32 for ``vectors (n, d)``; see the module docstring.

    ``normalise`` scales rows to unit length first (do it for cosine indexes).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) == 0:
        raise ValueError(f"expected vectors of shape (n, d) with n > 0, got {vectors.shape}")
    if method not in ("umap", "pca"):
        raise ValueError(f"unknown projection {method!r}; choose umap or pca")
    n = len(vectors)
    if normalise:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms > 0, norms, 1.0)
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(n, size=sample, replace=False)) if n > sample else np.arange(n)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, unit="pt", desc="projecting")
    try:
        if method == "pca" or n < 4:
            mean, components = pca_basis(vectors[fit_rows], 2, seed=seed)
            points = _apply(vectors, mean, components)
            if points.shape[1] < 2:  # fewer distinct directions than two: pad with zeros
                points = np.pad(points, ((0, 0), (0, 2 - points.shape[1])))
            if bar is not None:
                bar.update(n)
            return points
        if bar is not None:
            bar.set_description(f"PCA to {PCA_DIMS}-d")
        mean, components = pca_basis(vectors[fit_rows], PCA_DIMS, seed=seed)
        reduced = _apply(vectors, mean, components)

        import umap  # heavy (numba): only when asked for

        model = umap.UMAP(
            n_neighbors=min(15, len(fit_rows) - 1),
            min_dist=0.1,
            random_state=seed,
            init="spectral" if len(fit_rows) > 16 else "random",
        )
        if bar is not None:
            bar.set_description(f"UMAP fit on {len(fit_rows):,}")
        with warnings.catch_warnings():
            # random_state makes UMAP single-threaded and says so; we want the reproducible map.
            warnings.filterwarnings("ignore", message=".*n_jobs.*", category=UserWarning)
            warnings.filterwarnings("ignore", message=".*random_state.*", category=UserWarning)
            points = np.empty((n, 2), dtype=np.float32)
            points[fit_rows] = model.fit_transform(reduced[fit_rows])
            rest = np.setdiff1d(np.arange(n), fit_rows, assume_unique=True)
            if bar is not None:
                bar.update(len(fit_rows))
                if len(rest):
                    bar.set_description(f"UMAP transform of {len(rest):,}")
            for start in range(0, len(rest), _CHUNK):
                chunk = rest[start : start + _CHUNK]
                points[chunk] = model.transform(reduced[chunk])
                if bar is not None:
                    bar.update(len(chunk))
        return points
    finally:
        if bar is not None:
            bar.close()
