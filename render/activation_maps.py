"""What a convolution layer makes of one photo: one map per channel, beside the kernels that made them.

The photo goes through the network's own preprocessing (AlexNet: 224 crop; conv1 maps are
64 × 55×55); the maps of the chosen layer are drawn as a grid, every map on one shared scale
(0 = the smallest value of the layer, white = the largest), so a channel that barely responds
looks dark instead of being stretched into noise. ``over_photo`` draws each map as heat over the
crop instead (red → yellow where it is strong, the photo dimmed where it is zero). For the first
layer the kernel of map i is drawn at the same place of a grid beside it. Layout, left to right:
the crop, the kernels (first layer only), the maps; the grids have the columns of
:func:`latentspace.render.kernels.kernel_grid_geometry` and cells of ``tile`` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw
from torchvision.models.feature_extraction import create_feature_extractor

from latentspace.render.kernels import BACKGROUND, first_conv_weight, kernel_grid_geometry, normalise_kernel
from latentspace.render.text import font
from latentspace.render.units import UnitLayer

__all__ = ["ActivationMaps", "activation_maps", "render_activation_maps"]

PAD = 3
TITLE = 28


@dataclass(frozen=True)
class ActivationMaps:
    maps: np.ndarray
    """float32 ``(channels, h, w)``."""
    crop: np.ndarray
    """uint8 ``(H, W, 3)``: the photo as the network saw it (resized and cropped)."""
    layer: UnitLayer
    kernels: np.ndarray | None
    """``(channels, 3, kh, kw)`` when the layer is the first convolution's output, else None."""


@torch.inference_mode()
def activation_maps(embedder, layer: UnitLayer, image: Image.Image, *, with_kernels: bool) -> ActivationMaps:
    """The maps of ``layer`` for one RGB photo; ValueError for a layer without positions (fc6, pool)."""
    prepared = embedder.prepare(image)
    graph = create_feature_extractor(embedder.model, return_nodes={layer.node: "out"}).eval()
    out = graph(embedder.preprocessing.finish(prepared[None]).to(embedder.device))["out"]
    if out.ndim != 4 or out.shape[2] * out.shape[3] == 1:
        raise ValueError(f"{embedder.spec.name} layer {layer.name} has no positions to map (its output is {tuple(out.shape[1:])} per image); "
                         f"choose a convolution layer")
    kernels = first_conv_weight(embedder) if with_kernels else None
    crop = prepared.permute(1, 2, 0).cpu().numpy()
    return ActivationMaps(out[0].float().cpu().numpy(), crop, layer, kernels)


def _heat(value: np.ndarray) -> np.ndarray:
    """0..1 → RGB 0..1 on black-red-yellow-white ("hot")."""
    return np.stack([np.clip(3 * value, 0, 1), np.clip(3 * value - 1, 0, 1), np.clip(3 * value - 2, 0, 1)], axis=-1)


def _map_tile(values: np.ndarray, tile: int, photo: np.ndarray | None) -> Image.Image:
    picture = Image.fromarray(np.rint(values * 255).astype(np.uint8)).resize((tile, tile), Image.Resampling.BILINEAR)
    scaled = np.asarray(picture, dtype=np.float64) / 255.0
    if photo is None:
        return Image.fromarray(np.rint(scaled * 255).astype(np.uint8)).convert("RGB")
    alpha = scaled[..., None]
    mixed = photo * 0.45 * (1 - alpha) + _heat(scaled) * alpha
    return Image.fromarray(np.rint(np.clip(mixed, 0, 1) * 255).astype(np.uint8))


def render_activation_maps(result: ActivationMaps, *, tile: int | None = None, over_photo: bool = False,
                           title: str | None = None) -> Image.Image:
    """Draw the crop, the kernels (when known) and the maps as the module docstring says."""
    maps = result.maps
    count, mh, mw = maps.shape
    tile = tile or int(np.clip(max(mh, mw), 48, 96))
    low, high = float(maps.min()), float(maps.max())
    scaled = (maps - low) / (high - low) if high > low else np.zeros_like(maps)
    columns, rows, _ = kernel_grid_geometry(count, 1, 1, scale=1, pad=0)
    grid_w, grid_h = PAD + columns * (tile + PAD), PAD + rows * (tile + PAD)
    crop_side = max(tile * 2, min(grid_h - 2 * PAD, result.crop.shape[0]))
    panels = [crop_side + 2 * PAD] + ([grid_w] if result.kernels is not None else []) + [grid_w]
    band = TITLE if title else 0
    sheet = Image.new("RGB", (sum(panels), band + max(grid_h, crop_side + 2 * PAD)), BACKGROUND)
    sheet.paste(Image.fromarray(result.crop).resize((crop_side, crop_side), Image.Resampling.LANCZOS), (PAD, band + PAD))
    x = panels[0]
    photo = None
    if over_photo:
        photo = np.asarray(Image.fromarray(result.crop).resize((tile, tile), Image.Resampling.LANCZOS), dtype=np.float64) / 255.0
    if result.kernels is not None:
        for i, kernel in enumerate(result.kernels[:count]):
            picture = Image.fromarray(normalise_kernel(kernel)).resize((tile, tile), Image.Resampling.NEAREST)
            sheet.paste(picture, (x + PAD + (i % columns) * (tile + PAD), band + PAD + (i // columns) * (tile + PAD)))
        x += grid_w
    for i in range(count):
        sheet.paste(_map_tile(scaled[i], tile, photo), (x + PAD + (i % columns) * (tile + PAD), band + PAD + (i // columns) * (tile + PAD)))
    if title:
        ImageDraw.Draw(sheet).text((PAD * 2, 6), title, fill=(235, 235, 235), font=font(15))
    return sheet
