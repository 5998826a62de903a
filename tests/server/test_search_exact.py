"""Searches of an l2 index through the service equal an exact NumPy search over the exported vectors.

The same checks on the cosine index run with both clients in ``tests/client/test_end_to_end.py``.
"""

from __future__ import annotations

import numpy as np

from support.cli import export_arrays
from support.oracle import assert_hits, brute_force
from support.photos import photo_bytes

K = 5


def test_l2_index_matches_brute_force(start_server, l2_index, tmp_path):
    from latentspace.client import Client

    exported = export_arrays(l2_index, tmp_path / "l2.npz")
    running = start_server(l2_index)
    with Client(running.address) as client:
        info = client.info()
        assert (info.metric, info.faiss_factory, info.uses_faiss) == ("l2", "Flat", True)
        for item_id, vector in zip(exported["ids"].tolist()[:6], exported["vectors"]):
            ids, scores = brute_force(exported, vector, K, "l2", keep=exported["ids"] != item_id)
            result = client.search(item_id=item_id, k=K)
            assert result.metric == "l2"
            assert_hits(result, (ids, scores))
        zero = np.zeros(exported["vectors"].shape[1], dtype=np.float32)  # fine for l2: the origin
        ids, scores = brute_force(exported, zero, K, "l2")
        assert_hits(client.search(vector=zero, k=K), (ids, scores))
        data = photo_bytes(31)
        ids, scores = brute_force(exported, client.embed(data), K, "l2")
        assert_hits(client.search(data, k=K), (ids, scores))
        assert [r.ids for r in client.batch_search([data, zero], k=K)] == [ids, brute_force(exported, zero, K, "l2")[0]]
