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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from latentspace.render.atlas import AtlasGrid, render_atlas
from latentspace.render.featurevis import FeatureNetwork, OptimisationParams, direction_objective, visualize_many
from latentspace.render.featurevis.optimise import Progress

__all__ = ["SynthesisedAtlas", "cell_means", "synthesised_atlas"]

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


def cell_means(layout: AtlasGrid, vectors: np.ndarray, *, normalise: bool) -> np.ndarray:
    """The mean vector of the points of each non-empty cell, in ``layout.cells`` order."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if normalise:
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    index = layout.point_cells[:, 0] * layout.columns + layout.point_cells[:, 1]
    means = [vectors[index == cell.row * layout.columns + cell.column].mean(axis=0) for cell in layout.cells]
    return np.asarray(means, dtype=np.float32)


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
) -> SynthesisedAtlas:
    """Icons for every non-empty cell of ``layout`` (made over ``store.snapshot()``'s vectors), drawn as an atlas."""
    _, vectors = store.snapshot()
    if len(vectors) != len(layout.point_cells):
        raise ValueError(f"the layout has {len(layout.point_cells)} points but the index holds {len(vectors)} vectors")
    means = cell_means(layout, vectors, normalise=store.metric == "cosine")
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
