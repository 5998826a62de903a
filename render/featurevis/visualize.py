"""The one call that turns an objective into a PNG, cached in the index directory.

:func:`visualize` (one objective) and :func:`visualize_many` (several, optimised as one batch)
are what the CLI, the synthesised atlas and a server call. A picture is filed under a key that
hashes everything that decides its pixels: the algorithm's version, the model and the sha256 of
its weights, the objective's key (for a direction, the sha256 of its vector) and every
optimisation parameter::

    DIR/featurevis/<key>.png     the picture (image j of an objective with count > 1: <key>-<j>.png)
    DIR/featurevis/<key>.json    what it shows: model, objective, parameters

Files are written under a temporary name and renamed, so a crash never leaves half a picture; a
directory that cannot be written (a read-only index) only means nothing is kept.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from latentspace.indexer.atomic import atomic_write_bytes
from latentspace.render.featurevis.network import FeatureNetwork
from latentspace.render.featurevis.objectives import Objective
from latentspace.render.featurevis.optimise import OptimisationParams, Progress, ProgressCallback, optimise

__all__ = ["ALGORITHM_VERSION", "CACHE_FOLDER", "Visualization", "VisualizationCache", "cached_visualization",
           "png_bytes", "render_visualizations", "visualize", "visualize_many"]

ALGORITHM_VERSION = 1
"""Raise when a change to the parametrisation, transforms or loop changes the pixels."""
CACHE_FOLDER = "featurevis"


@dataclass(frozen=True)
class Visualization:
    """The pictures of one objective, with how far the optimisation got."""

    pictures: tuple[bytes, ...]
    """``params.count`` PNGs."""
    value: float
    """The objective's value at the last step, mean over the pictures (NaN if a cache entry lacks it)."""
    cached: bool
    """Read from the cache: no step ran."""


def png_bytes(pixels: np.ndarray) -> bytes:
    """uint8 ``(h, w, 3)`` → PNG bytes (no timestamps or other metadata: same pixels, same bytes)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def cache_key(network: FeatureNetwork, objective: Objective, params: OptimisationParams) -> str:
    described = {
        "version": ALGORITHM_VERSION,
        "model": network.embedder.spec.name,
        "weights_sha256": network.embedder.identity.sha256,
        "objective": objective.key,
        "params": params.as_dict(),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]


class VisualizationCache:
    """Pictures by key in ``DIR/featurevis``; ``directory=None`` keeps nothing."""

    def __init__(self, index_dir: Path | None) -> None:
        self.folder = None if index_dir is None else Path(index_dir) / CACHE_FOLDER

    def _paths(self, key: str, count: int) -> list[Path]:
        assert self.folder is not None
        return [self.folder / (f"{key}.png" if count == 1 else f"{key}-{j}.png") for j in range(count)]

    def get(self, key: str, count: int) -> list[bytes] | None:
        if self.folder is None:
            return None
        try:
            return [path.read_bytes() for path in self._paths(key, count)]
        except OSError:
            return None

    def about(self, key: str) -> dict:
        """What ``put`` recorded beside the pictures; empty if it cannot be read."""
        if self.folder is None:
            return {}
        try:
            about = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return about if isinstance(about, dict) else {}

    def put(self, key: str, pictures: Sequence[bytes], about: dict) -> None:
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.folder / f"{key}.json", (json.dumps(about, indent=2) + "\n").encode())
            for path, data in zip(self._paths(key, len(pictures)), pictures):
                atomic_write_bytes(path, data)
        except OSError:
            pass  # read-only or full: the pictures are still right, only not kept


def _cached(cache: VisualizationCache, key: str, count: int) -> Visualization | None:
    pictures = cache.get(key, count)
    if pictures is None:
        return None
    value = cache.about(key).get("last_value")
    return Visualization(tuple(pictures), float(value) if isinstance(value, (int, float)) else float("nan"), True)


def cached_visualization(network: FeatureNetwork, objective: Objective, params: OptimisationParams, *,
                         index_dir: Path | None) -> Visualization | None:
    """The cached pictures of ``objective`` under ``params``, or None: costs no optimisation."""
    return _cached(VisualizationCache(index_dir), cache_key(network, objective, params), params.count)


def render_visualizations(
    network: FeatureNetwork,
    objectives: Sequence[Objective],
    params: OptimisationParams,
    *,
    index_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    batch: int = 8,
    on_batch: Callable[[int], None] | None = None,
) -> list[Visualization]:
    """One :class:`Visualization` per objective, from the cache or optimised.

    Objectives not in the cache are optimised ``batch`` at a time (``on_batch(done)`` after each,
    with the number of objectives done so far) and cached. ``progress`` sees every step of every
    batch; its ``values`` are those of the batch's objectives. An exception ``progress`` raises
    stops the work and propagates; nothing of the unfinished batch is cached.
    """
    cache = VisualizationCache(index_dir)
    keys = [cache_key(network, objective, params) for objective in objectives]
    results: list[Visualization | None] = [_cached(cache, key, params.count) for key in keys]
    todo = [i for i, found in enumerate(results) if found is None]
    done = len(objectives) - len(todo)
    for start in range(0, len(todo), max(1, batch)):
        chunk = todo[start : start + max(1, batch)]
        optimised = optimise(network, [objectives[i] for i in chunk], params, progress)
        for position, i in enumerate(chunk):
            rows = optimised.images[position * params.count : (position + 1) * params.count]
            pictures = [png_bytes(row) for row in rows]
            history = optimised.history[:, position * params.count : (position + 1) * params.count]
            about = {
                "model": network.embedder.spec.name,
                "weights_sha256": network.embedder.identity.sha256,
                "objective": objectives[i].key,
                "description": objectives[i].description,
                "params": params.as_dict(),
                "first_value": float(history[0].mean()),
                "last_value": float(history[-1].mean()),
            }
            cache.put(keys[i], pictures, about)
            results[i] = Visualization(tuple(pictures), about["last_value"], False)
        done += len(chunk)
        if on_batch is not None:
            on_batch(done)
    return [r for r in results if r is not None]


def visualize_many(
    network: FeatureNetwork,
    objectives: Sequence[Objective],
    params: OptimisationParams,
    *,
    index_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    batch: int = 8,
    on_batch: Callable[[int], None] | None = None,
) -> list[list[bytes]]:
    """PNG bytes of ``params.count`` pictures per objective: :func:`render_visualizations`' pictures."""
    return [list(v.pictures) for v in render_visualizations(network, objectives, params, index_dir=index_dir,
                                                            progress=progress, batch=batch, on_batch=on_batch)]


def visualize(
    network: FeatureNetwork,
    objective: Objective,
    params: OptimisationParams = OptimisationParams(),
    *,
    index_dir: Path | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> bytes:
    """The PNG of one objective (the first picture when ``params.count`` > 1)."""
    return visualize_many(network, [objective], params, index_dir=index_dir, progress=progress)[0][0]
