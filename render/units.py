"""What one unit of a layer responds to: the indexed images that activate it most.

A unit's activation for an image is its value in the layer's output; for a convolution layer
(output ``(c, h, w)``) it is the maximum over the ``h × w`` positions, i.e. the strongest
response anywhere in the picture. Activations of every indexed image are computed in one
batched pass with torchvision's ``create_feature_extractor`` and cached in the index directory::

    DIR/activations/<model>-<layer>-<key>.npy       float32 (n_items, n_units), row i = ids[i]
    DIR/activations/<model>-<layer>-<key>.ids.npy   int64 (n_items,), ascending
    DIR/activations/<model>-<layer>-<key>.json      what the matrix is (model, node, weights, count)

``key`` hashes the model, layer node, the weights' sha256 and every item's ``(id, content
sha256)``, so adding, removing or changing an image, or other weights, makes a new file (older
ones of the same layer are removed). An image whose file is missing or changed gets a row of
NaN and never ranks.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.models.feature_extraction import create_feature_extractor

from latentspace.indexer.embedders import Embedder, EmbedderError, EmbedderSpec, UnitLayer
from latentspace.indexer.images import ImageRejected, decode_image
from latentspace.indexer.item_db import Item
from latentspace.render.thumbnails import read_item_picture

__all__ = [
    "Activations",
    "UnitLayer",
    "activations_of_images",
    "index_activations",
    "top_items",
    "unit_layer",
    "unit_layers",
]

CACHE_FOLDER = "activations"


def unit_layers(spec: EmbedderSpec) -> tuple[UnitLayer, ...]:
    """The layers of ``spec`` that units can be drawn for: its ``unit_layers`` plus the embedder's own layers."""
    known = list(spec.unit_layers)
    names = {layer.name for layer in known}
    known += [UnitLayer(layer.name, layer.node, f"{layer.name}, {layer.dim} units") for layer in spec.layers if layer.name not in names]
    return tuple(known)


def unit_layer(spec: EmbedderSpec, name: str) -> UnitLayer:
    for layer in unit_layers(spec):
        if layer.name == name:
            return layer
    choices = ", ".join(layer.name for layer in unit_layers(spec))
    raise EmbedderError(f"model {spec.name!r} has no layer {name!r} to show units of; choose one of: {choices}")


def _reduce(output: torch.Tensor) -> torch.Tensor:
    """``(n, c, h, w)`` → max over positions ``(n, c)``; ``(n, c)`` as it is."""
    if output.ndim == 4:
        return output.amax(dim=(2, 3))
    return output.flatten(1)


class _Extractor:
    def __init__(self, embedder: Embedder, layer: UnitLayer) -> None:
        self.device = embedder.device
        self.graph = create_feature_extractor(embedder.model, return_nodes={layer.node: "out"}).eval()

    @torch.inference_mode()
    def __call__(self, batch: torch.Tensor) -> np.ndarray:
        return _reduce(self.graph(batch.to(self.device))["out"]).float().cpu().numpy()


def activations_of_images(embedder: Embedder, layer: UnitLayer, images: Sequence[Image.Image], *, batch_size: int = 32) -> np.ndarray:
    """Unit activations ``(len(images), n_units)`` float32 of upright RGB images."""
    extractor = _Extractor(embedder, layer)
    parts = [
        extractor(torch.stack([embedder.preprocess(im) for im in images[start : start + batch_size]]))
        for start in range(0, len(images), batch_size)
    ]
    if not parts:
        raise ValueError("no images given")
    return np.concatenate(parts)


@dataclass(frozen=True)
class Activations:
    ids: np.ndarray
    """int64 ``(n,)``, ascending: the item of each row."""
    values: np.ndarray
    """float32 ``(n, n_units)``; a row of NaN for an item whose picture could not be read."""
    layer: UnitLayer
    path: Path | None
    """The cache file the matrix lives in (None when not cached)."""
    from_cache: bool

    @property
    def units(self) -> int:
        return self.values.shape[1]

    @property
    def missing(self) -> np.ndarray:
        """Ids of the items whose pictures could not be read."""
        return self.ids[np.isnan(self.values).all(axis=1)] if len(self.ids) else self.ids


def _cache_key(embedder: Embedder, layer: UnitLayer, items: Sequence[Item]) -> str:
    digest = hashlib.sha256()
    digest.update(f"{embedder.spec.name}|{layer.name}|{layer.node}|{embedder.identity.sha256}|max-over-positions\n".encode())
    for item in items:
        digest.update(f"{item.id} {item.sha256}\n".encode())
    return digest.hexdigest()[:20]


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _load_cached(base: Path, count: int) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        ids = np.load(base.with_suffix(".ids.npy"), allow_pickle=False)
        values = np.load(base.with_suffix(".npy"), allow_pickle=False)
    except (OSError, ValueError):  # absent, or torn by a crash before the rename
        return None
    if ids.shape != (count,) or values.ndim != 2 or values.shape[0] != count or values.dtype != np.float32:
        return None
    return ids.astype(np.int64), values


def _read_image(index_dir: Path, item: Item) -> Image.Image | None:
    try:
        data = read_item_picture(index_dir, item)
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != item.sha256:
        return None  # changed since indexing: its vector and this picture would disagree
    try:
        return decode_image(data).image
    except ImageRejected:
        return None


def index_activations(
    store,
    embedder: Embedder,
    layer: UnitLayer,
    *,
    batch_size: int = 32,
    progress: bool = False,
    use_cache: bool = True,
) -> Activations:
    """Activations of every item of an open :class:`~latentspace.indexer.store.IndexStore`.

    Read from the cache when it matches the items and the weights, else computed and cached.
    """
    items = list(store.iter_items())
    if not items:
        raise ValueError(f"index {store.directory} holds no items")
    folder = Path(store.directory) / CACHE_FOLDER
    base = folder / f"{embedder.spec.name}-{layer.name}-{_cache_key(embedder, layer, items)}"
    if use_cache:
        cached = _load_cached(base, len(items))
        if cached is not None:
            return Activations(cached[0], cached[1], layer, base.with_suffix(".npy"), from_cache=True)

    extractor = _Extractor(embedder, layer)
    ids = np.fromiter((item.id for item in items), dtype=np.int64, count=len(items))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), unit="img", desc=f"{layer.name} activations")

    def prepare(item: Item) -> torch.Tensor | None:
        image = _read_image(store.directory, item)
        return None if image is None else embedder.preprocess(image)

    values: np.ndarray | None = None
    with ThreadPoolExecutor(max_workers=2) as pool:  # decoding overlaps the forward passes
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            tensors = list(pool.map(prepare, chunk))
            present = [i for i, t in enumerate(tensors) if t is not None]
            out = extractor(torch.stack([tensors[i] for i in present])) if present else None
            if out is not None:
                if values is None:  # rows of earlier batches with no readable picture stay NaN
                    values = np.full((len(items), out.shape[1]), np.nan, dtype=np.float32)
                values[start + np.asarray(present)] = out
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    if values is None:
        raise ValueError(f"none of the {len(items)} pictures of index {store.directory} can be read")

    path = None
    if use_cache:
        try:
            folder.mkdir(exist_ok=True)
            for stale in folder.glob(f"{embedder.spec.name}-{layer.name}-*"):
                if not stale.name.startswith(base.name):
                    stale.unlink(missing_ok=True)
            meta = {
                "model": embedder.spec.name,
                "layer": layer.name,
                "node": layer.node,
                "reduction": "max over positions for convolution outputs",
                "weights_sha256": embedder.identity.sha256,
                "items": len(items),
                "units": int(values.shape[1]),
                "missing": int(np.isnan(values).all(axis=1).sum()),
            }
            _write_atomically(base.with_suffix(".json"), lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"))
            _write_atomically(base.with_suffix(".ids.npy"), lambda p: _save_npy(p, ids))
            _write_atomically(base.with_suffix(".npy"), lambda p: _save_npy(p, values))  # last: it marks completion
            path = base.with_suffix(".npy")
        except OSError:
            path = None  # a read-only index: the result is still right, only not kept
    return Activations(ids, values, layer, path, from_cache=False)


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def top_items(activations: Activations, unit: int, top: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` items activating ``unit`` most: ``(ids, values)``, descending, ties to the smaller id."""
    if not 0 <= unit < activations.units:
        raise ValueError(f"layer {activations.layer.name} has units 0..{activations.units - 1}, not {unit}")
    column = activations.values[:, unit]
    readable = ~np.isnan(column)
    ids, column = activations.ids[readable], column[readable]
    order = np.lexsort((ids, -column.astype(np.float64)))[:top]
    return ids[order], column[order]
