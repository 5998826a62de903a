"""A Flat index scored in chunks: Combine, Discover, Shift, Walk and refined searches through a real
server allocate far less per request than one copy of the stored vectors (n·d·4 bytes).

tracemalloc sees NumPy's buffers, so the peak of a request is what it really allocated; the
index is large enough (4,000 × 4096-d, 64 MiB) that a copy of every vector would dwarf the rest.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

COUNT = 4000
CHUNK_BYTES = 1 << 20


@pytest.fixture(scope="module")
def flat_index(random_embedder, tmp_path_factory):
    from latentspace.indexer import EmbedderInfo, IndexSettings, IndexStore, NewItem

    directory = tmp_path_factory.mktemp("scan") / "idx"
    rng = np.random.default_rng(5)
    vectors = np.abs(rng.normal(size=(COUNT, random_embedder.dim))).astype(np.float32)
    with IndexStore.create(directory, EmbedderInfo.from_embedder(random_embedder), IndexSettings("cosine", "Flat")) as store:
        ids = store.add([NewItem(path=f"s/{i:05d}.png", label=("a", "b", "c")[i % 3], sha256=f"{i:064x}", width=1,
                           height=1, vector=v) for i, v in enumerate(vectors)])
    return directory, vectors, ids


def _peak(call) -> int:
    """Bytes allocated at the peak of ``call`` beyond what was held before it."""
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    call()
    return tracemalloc.get_traced_memory()[1] - before


def test_exact_requests_never_hold_every_vector(flat_index, start_server):
    from latentspace.client import Client

    directory, vectors, stored = flat_index
    full_copy = vectors.nbytes
    running = start_server(directory, scan_chunk_bytes=CHUNK_BYTES)
    with Client(running.address, timeout=120.0) as client:
        a, b, c = (int(i) for i in stored[:3])
        requests = {
            "combine add": lambda: client.combine([a, b], [c], method="add", k=10),
            "combine sum_scores, groups": lambda: client.combine([a], [b], method="sum_scores", k=2,
                                                                 group_by="label", group_size=3),
            "discover": lambda: client.discover(a, [(b, c)], k=10),
            "shift": lambda: client.shift(a, vector=vectors[1], alphas=[0.0, 0.5, 1.0], k=5),
            "walk": lambda: client.walk(a, b, steps=4, k=5),
            "search, threshold": lambda: client.search(item_id=a, k=10, min_score=0.0),
        }
        for call in requests.values():  # warm: channel, first-call caches
            call()
        tracemalloc.start()
        try:
            peaks = {name: _peak(call) for name, call in requests.items()}
        finally:
            tracemalloc.stop()
        print({name: f"{peak / 2**20:.1f} MiB" for name, peak in peaks.items()}, f"full copy {full_copy / 2**20:.1f} MiB")
        for name, peak in peaks.items():
            assert peak < full_copy / 4, f"{name}: {peak} bytes at its peak, a copy of every vector is {full_copy}"
        # and the chunked answer is the exact one
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        q = unit[0] + unit[1] - unit[2]
        expected = np.argsort(-(unit @ (q / np.linalg.norm(q))), kind="stable")
        expected = [int(stored[i]) for i in expected if int(i) not in (0, 1, 2)][:10]
        assert client.combine([a, b], [c], method="add", k=10).ids == expected
