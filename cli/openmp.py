"""Idle OpenMP threads should sleep, not spin: set before PyTorch or FAISS is loaded.

The model's layers and FAISS's searches run on OpenMP threads, which by default keep spinning
for a while after each parallel region, waiting for the next one. On a machine with few cores
that spinning takes the cores from the work running beside the model: the indexer's decoding
workers, the server's request threads and its FAISS searches. With ``OMP_WAIT_POLICY=PASSIVE``
idle threads sleep instead; bench/index_throughput.py shows the difference (README, Benchmarks).

The OpenMP runtime reads the variable once, when the library is loaded, so this must run before
the first ``import torch`` or ``import faiss``. A value the user has set is kept.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

__all__ = ["prefer_sleeping_openmp_threads"]


def prefer_sleeping_openmp_threads(environ: MutableMapping[str, str] = os.environ) -> str:
    """Default ``OMP_WAIT_POLICY`` to ``PASSIVE``; returns the policy in force."""
    return environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
