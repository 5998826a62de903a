"""An atlas drawn by the network itself: each cell's icon is optimised for the cell's mean vector.

As in Carter et al. (2019), "Activation Atlas" (Distill): the stored vectors are laid out in 2-D
and covered by a grid (:mod:`latentspace.render.atlas`, the same layout as the photo atlas);
each non-empty cell's icon is a feature visualization (:mod:`latentspace.render.featurevis`) of
the direction of the mean of its vectors (unit vectors first for a cosine index), at the index's
layer: the image whose embedding has the highest cosine with that mean. Icons are optimised
``batch`` cells at a time and cached in the index directory like every visualization, so a
second atlas of the same index and parameters costs no optimisation.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from latentspace.render.atlas import AtlasGrid, render_atlas
from latentspace.render.featurevis import FeatureNetwork, OptimisationParams, direction_objective, visualize_many
from latentspace.render.featurevis.optimise import Progress

__all__ = ["SynthesisedAtlas", "cell_means", "synthesised_atlas"]

_MEAN_CHUNK = 4096  # rows read at a time to average the cells

DEFAULT_ICON_PARAMS = OptimisationParams(steps=128, size=128)
"""Icons are small: 128 pixels and half the default steps keep a 24×24 atlas within reach of a CPU."""


@dataclass(frozen=True)
class SynthesisedAtlas:
    layout: AtlasGrid
    means: np.ndarray
    """float32 ``(len(layout.cells), d)``: the mean vector of each non-empty cell, in ``layout.cells`` order."""
    icons: tuple[Image.Image, ...]
    """The icon of each cell, at the optimisation size."""
    image: Image.Image


def cell_means(layout: AtlasGrid, vectors: np.ndarray | Iterable[np.ndarray], *, normalise: bool) -> np.ndarray:
    """The mean vector of the points of each non-empty cell, in ``layout.cells`` order.

    ``vectors`` are the points' vectors in point order: one array, or consecutive chunks of it
    (summed chunk by chunk, so only one chunk is held)."""
    chunks = [vectors] if isinstance(vectors, np.ndarray) else vectors
    index = layout.point_cells[:, 0] * layout.columns + layout.point_cells[:, 1]
    position = {cell.row * layout.columns + cell.column: n for n, cell in enumerate(layout.cells)}
    cell_of = np.array([position.get(int(i), -1) for i in index], dtype=np.int64)
    sums, counts, start = None, np.zeros(len(layout.cells)), 0
    for chunk in chunks:
        v = np.asarray(chunk, dtype=np.float64)
        if normalise:
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        cells = cell_of[start: start + len(v)]
        sums = np.zeros((len(layout.cells), v.shape[1])) if sums is None else sums
        np.add.at(sums, cells, v)
        counts += np.bincount(cells, minlength=len(layout.cells))
        start += len(v)
    if start != len(index) or sums is None:
        raise ValueError(f"the layout has {len(index)} points but {start} vectors were given")
    return (sums / counts[:, None]).astype(np.float32)


def synthesised_atlas(
    store,
    network: FeatureNetwork,
    layout: AtlasGrid,
    *,
    params: OptimisationParams = DEFAULT_ICON_PARAMS,
    tile: int = 64,
    gap: int = 1,
    batch: int = 8,
    progress: bool = False,
    on_step: Callable[[Progress], None] | None = None,
    ids: np.ndarray | None = None,
) -> SynthesisedAtlas:
    """Icons for every non-empty cell of ``layout``, drawn as an atlas.

    ``ids`` are the items of the layout's points (an :class:`IndexAtlas`'s ``ids``; default every
    stored id); their vectors are read in chunks to average each cell."""
    ids = store.ids() if ids is None else np.asarray(ids, dtype=np.int64)
    if len(ids) != len(layout.point_cells):
        raise ValueError(f"the layout has {len(layout.point_cells)} points but {len(ids)} items were given")
    chunks = (store.vectors(ids[i: i + _MEAN_CHUNK]) for i in range(0, len(ids), _MEAN_CHUNK))
    means = cell_means(layout, chunks, normalise=store.metric == "cosine")
    layer = store.manifest.embedder.layer
    objectives = [direction_objective(network, mean, f"cell ({c.row}, {c.column})", layer=layer)
                  for mean, c in zip(means, layout.cells)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(objectives), unit="icon", desc="synthesising icons")

    def step(update: Progress) -> None:
        if bar is not None:
            bar.set_postfix_str(f"step {update.step}/{update.steps}", refresh=update.step % 8 == 0)
        if on_step is not None:
            on_step(update)

    def batch_done(done: int) -> None:
        if bar is not None:
            bar.n = done
            bar.refresh()

    pictures = visualize_many(network, objectives, params, index_dir=store.directory, batch=batch,
                              progress=step, on_batch=batch_done)
    if bar is not None:
        bar.n = len(objectives)
        bar.close()
    icons = tuple(Image.open(io.BytesIO(p[0])).convert("RGB") for p in pictures)
    by_point = {cell.point: icon for cell, icon in zip(layout.cells, icons)}
    image = render_atlas(layout, lambda point, side: by_point[point].resize((side, side), Image.Resampling.LANCZOS),
                         tile=tile, gap=gap)
    return SynthesisedAtlas(layout, means, icons, image)
