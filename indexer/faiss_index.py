"""A FAISS index keyed by item id, built from a factory string, on the CPU or a GPU.

Contract: vectors are float32 ``(n, d)``; for metric ``cosine`` they are L2-normalised here and
searched by inner product (scores are cosines, higher is better); for ``l2`` scores are squared
Euclidean distances (lower is better). Missing results are id ``-1``, FAISS's sentinel.
"""

from __future__ import annotations

import hashlib
import re

import faiss
import numpy as np

from latentspace.indexer.manifest import Metric
from latentspace.indexer.unit_rows import unit_rows

__all__ = ["FaissError", "FaissIndex", "gpu_available", "normalize_rows"]


class FaissError(ValueError):
    """A factory string FAISS cannot build, or an index that cannot do what was asked."""


def gpu_available() -> bool:
    """True when this faiss build has GPU support and sees a GPU."""
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def faiss_message(exc: Exception) -> str:
    """The human part of a FAISS C++ error ("Error in <signature> at <file>:<line>: <message>")."""
    match = re.search(r" at \S+:\d+: (.*)", str(exc), flags=re.DOTALL)
    return (match.group(1) if match else str(exc)).strip()


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Unit-length float32 copies of the rows (what FAISS takes); an all-zero row stays zero."""
    return unit_rows(np.asarray(vectors, dtype=np.float32))


def prefer_blas_beyond_threads(dim: int) -> None:
    """Let FAISS answer more queries than it has threads with one BLAS product (Flat scans).

    An exhaustive search of ``n`` queries uses BLAS only when ``n * d`` reaches
    ``distance_compute_blas_threshold`` (128000 by default: 32 queries of 4096-d); below that
    each thread scans every stored vector once per query, so 8 queries read them 4 times on 2
    threads. Past one query per thread the BLAS product is faster: measured on 10k x 4096 with
    2 threads, 8 queries 20 ms instead of 40, 16 queries 19 instead of 79 (README, Benchmarks).
    For ``l2`` the BLAS path computes ``|x|² + |y|² - 2 x·y``, as FAISS does from 32 queries anyway;
    tests/indexer/test_store.py checks both paths against a float64 brute force. The setting is
    process-wide; every search sets it for its own dimension.
    """
    faiss.cvar.distance_compute_blas_threshold = (faiss.omp_get_max_threads() + 1) * dim


class FaissIndex:
    """An ``IndexIDMap2`` around ``index_factory(d, factory, metric)``."""

    def __init__(self, index: faiss.Index, metric: Metric, factory: str) -> None:
        self.index = index
        self.metric = metric
        self.factory = factory

    @classmethod
    def create(cls, dim: int, factory: str, metric: Metric) -> FaissIndex:
        faiss_metric = faiss.METRIC_INNER_PRODUCT if metric == "cosine" else faiss.METRIC_L2
        try:
            inner = faiss.index_factory(dim, factory, faiss_metric)
        except RuntimeError as exc:
            raise FaissError(f"FAISS cannot build index {factory!r}: {faiss_message(exc)}") from None
        if isinstance(inner, (faiss.IndexIDMap, faiss.IndexIDMap2)):
            raise FaissError(f"give the factory without IDMap ({factory!r}); ids are added by latentspace")
        return cls(faiss.IndexIDMap2(inner), metric, factory)

    @property
    def dim(self) -> int:
        return self.index.d

    @property
    def ntotal(self) -> int:
        return self.index.ntotal

    @property
    def is_trained(self) -> bool:
        # Ask the wrapped index: IndexIDMap2 copies the flag only when it is trained itself, and
        # files written before training went through the wrapper carry a stale False.
        return bool(self.index.index.is_trained)

    def min_training_vectors(self) -> int:
        """A lower bound FAISS needs to train (the number of IVF lists or PQ centroids)."""
        inner = faiss.downcast_index(self.index.index)
        ivf = faiss.try_extract_index_ivf(inner)
        if ivf is not None:
            return int(ivf.nlist)
        return 256 if not inner.is_trained else 0

    def _prepare(self, vectors: np.ndarray) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        return normalize_rows(vectors) if self.metric == "cosine" else vectors

    def train(self, vectors: np.ndarray, *, use_gpu: bool = False) -> None:
        """Train on ``vectors`` (raw; normalised here for cosine), on a GPU when asked and possible."""
        data = self._prepare(vectors)
        inner = self.index.index
        if use_gpu and gpu_available():
            resources = faiss.StandardGpuResources()
            gpu_inner = faiss.index_cpu_to_gpu(resources, 0, inner)
            gpu_inner.train(data)
            self.index = faiss.IndexIDMap2(faiss.index_gpu_to_cpu(gpu_inner))
        else:
            self.index.train(data)  # through the id map, so its own is_trained is set too

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self.index.add_with_ids(self._prepare(vectors), np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids; raises FaissError for index types that cannot remove (e.g. HNSW)."""
        try:
            return int(self.index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64)))
        except RuntimeError as exc:
            raise FaissError(f"{self.factory} does not support removal: {exc}") from None

    def ids(self) -> np.ndarray:
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def search(
        self, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(scores (n, k), ids (n, k))``; ``allowed_ids`` restricts results to those ids."""
        data = self._prepare(queries)
        prefer_blas_beyond_threads(self.index.d)
        scores, ids = self.index.search(data, k, params=self._params(allowed_ids))
        return scores, ids

    def range_search(self, query: np.ndarray, radius: float, *,
                     allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)``, unordered, of every vector FAISS finds within ``radius`` of one query
        ``(d,)``: inner products above it (cosine), squared distances below it (l2). Scores are
        FAISS's own (approximate on compressed indexes; an IVF index looks in ``nprobe`` lists
        only); FaissError where the index type has no range search."""
        data = self._prepare(np.asarray(query, dtype=np.float32)[None, :])
        try:
            lims, scores, ids = self.index.range_search(data, float(radius), params=self._params(allowed_ids))
        except RuntimeError as exc:
            raise FaissError(f"{self.factory} does not support range search: {exc}") from None
        return scores[lims[0]:lims[1]], ids[lims[0]:lims[1]].astype(np.int64)

    def _params(self, allowed_ids: np.ndarray | None):
        """Search parameters keeping only ``allowed_ids`` (None: all)."""
        if allowed_ids is None:
            return None
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed_ids, dtype=np.int64))
        ivf = faiss.try_extract_index_ivf(self.index.index)
        if ivf is not None:  # IndexIVF refuses plain SearchParameters; keep the index's own nprobe
            return faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe)
        return faiss.SearchParameters(sel=selector)

    @classmethod
    def read(cls, path, metric: Metric, factory: str, *, mmap: bool = False) -> FaissIndex:
        """Read a file FAISS wrote; ``mmap`` maps IVF lists and flat codes instead of loading them
        (such an index can only be searched)."""
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
        index = faiss.read_index(str(path), flags)
        if not isinstance(index, faiss.IndexIDMap2):
            index = faiss.downcast_index(index)
        if not isinstance(index, faiss.IndexIDMap2):
            raise FaissError("the FAISS file does not hold an id-mapped index written by latentspace")
        return cls(index, metric, factory)

    def serialize(self) -> bytes:
        return faiss.serialize_index(self.index).tobytes()

    @classmethod
    def deserialize(cls, data: bytes, metric: Metric, factory: str) -> FaissIndex:
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        if not isinstance(index, faiss.IndexIDMap2):
            index = faiss.downcast_index(index)
        if not isinstance(index, faiss.IndexIDMap2):
            raise FaissError("the FAISS file does not hold an id-mapped index written by latentspace")
        return cls(index, metric, factory)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
