"""What runs on the cluster: decoding tasks and the embedding actors.

Rows travel as plain columns (Ray Data's numpy batches): the item's location and stamp, then
its outcome (:class:`~latentspace.indexer.stages.Outcome`), its uint8 pixels between the two
stages and its vector after the second. Every input row gives exactly one output row, skipped
ones included, so the driver can tell when a shard is complete.
"""

from __future__ import annotations

import numpy as np

from latentspace.indexer.embedders import EmbedderConfig, Preprocessing
from latentspace.indexer.sources.items import SourceItem
from latentspace.indexer.stages import prepare_item

__all__ = ["EmbedWorker", "ITEM_COLUMNS", "OUTCOME_COLUMNS", "decode_batch"]

ITEM_COLUMNS = ("key", "label", "container", "kind", "member", "offset", "length")
PASSED_COLUMNS = ("key", "label", "size", "mtime_ns", "shard")
OUTCOME_COLUMNS = ("status", "sha256", "width", "height", "reason", "message")


def _crop_shape(preprocessing: Preprocessing) -> tuple[int, int, int]:
    crop = preprocessing.crop
    return (3, crop[0], crop[-1])


def decode_batch(batch: dict[str, np.ndarray], *, preprocessing: Preprocessing) -> dict[str, np.ndarray]:
    """Read, hash, decode and prepare each row's image (a CPU task); bad images become "skip" rows."""
    count = len(batch["key"])
    pixels = np.zeros((count, *_crop_shape(preprocessing)), dtype=np.uint8)
    outcomes = []
    for i in range(count):
        item = SourceItem(**{name: batch[name][i].item() if hasattr(batch[name][i], "item") else batch[name][i]
                             for name in ITEM_COLUMNS})
        previous = str(batch["previous_sha256"][i]) or None
        outcome, tensor = prepare_item(item, previous, preprocessing.prepare, min_side=preprocessing.min_side)
        if tensor is not None:
            pixels[i] = tensor.numpy()
        outcomes.append(outcome)
    out = {name: batch[name] for name in PASSED_COLUMNS}
    for name in OUTCOME_COLUMNS:
        values = [getattr(o, name) for o in outcomes]
        out[name] = np.asarray(values, dtype=np.int64 if name in ("width", "height") else object)
    out["pixels"] = pixels
    return out


class EmbedWorker:
    """One model per actor, loaded once; embeds the "ok" rows of each batch it is handed."""

    def __init__(self, config: EmbedderConfig, *, device: str, expected_sha256: str, threads: int | None) -> None:
        import torch

        from latentspace.indexer.embedders import load_embedder

        if threads:
            torch.set_num_threads(threads)
        self.embedder = load_embedder(config, device=device)
        if self.embedder.identity.sha256 != expected_sha256:
            raise RuntimeError(f"this node's {config.model} weights ({self.embedder.identity.description}, sha256 "
                               f"{self.embedder.identity.sha256[:12]}) differ from the driver's ({expected_sha256[:12]}): "
                               "install the same weights on every node")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        pixels = batch.pop("pixels")
        ok = np.asarray(batch["status"]) == "ok"
        vectors = np.zeros((len(ok), self.embedder.dim), dtype=np.float32)
        if ok.any():
            vectors[ok] = self.embedder.embed_batch(torch.from_numpy(np.ascontiguousarray(pixels[ok])))
        batch["vector"] = vectors
        return batch
