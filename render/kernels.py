"""The first convolution's kernels drawn as a grid of small RGB pictures.

Each kernel ``(3, kh, kw)`` is min–max normalised on its own (all three channels together, so
its colours keep their balance) to 0..255, then enlarged ``scale`` times with nearest-neighbour
so every weight stays one visible square. Layout, for ``n`` kernels::

    columns = the smallest divisor of n in [ceil(sqrt(n)), 2 ceil(sqrt(n))], else ceil(sqrt(n))
    rows = ceil(n / columns)
    kernel i at column i % columns, row i // columns
    its box: left = pad + column * (kw * scale + pad),  top = pad + row * (kh * scale + pad)

so AlexNet's 64 kernels of 11×11 make an 8×8 grid and EfficientNet-Lite0's 32 of 3×3 an 8×4
one. Empty space is dark grey.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

__all__ = ["BACKGROUND", "first_conv_weight", "kernel_grid", "kernel_grid_geometry", "normalise_kernel"]

BACKGROUND = (48, 48, 48)
TARGET_KERNEL_PIXELS = 48
"""Default enlargement: the smallest integer scale making a kernel at least this many pixels wide."""


def first_conv_weight(embedder) -> np.ndarray:
    """The weights ``(out, in, kh, kw)`` float32 of the embedder's first convolution."""
    conv = embedder.model.get_submodule(embedder.spec.first_conv)
    weight = getattr(conv, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.ndim != 4:
        raise ValueError(f"{embedder.spec.name}: {embedder.spec.first_conv} has no 4-d convolution weight")
    return weight.detach().float().cpu().numpy()


def normalise_kernel(kernel: np.ndarray) -> np.ndarray:
    """One kernel ``(c, kh, kw)`` as a uint8 picture ``(kh, kw, 3)``, stretched to 0..255.

    Three input channels are shown as RGB; any other count is shown as grey (their mean).
    A constant kernel is mid-grey.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 3:
        raise ValueError(f"a kernel must have shape (c, kh, kw), got {kernel.shape}")
    planes = kernel if kernel.shape[0] == 3 else np.repeat(kernel.mean(axis=0, keepdims=True), 3, axis=0)
    low, high = planes.min(), planes.max()
    if high - low <= 0:
        return np.full(planes.shape[1:] + (3,), 128, dtype=np.uint8)
    scaled = (planes - low) / (high - low)
    return np.rint(scaled.transpose(1, 2, 0) * 255.0).astype(np.uint8)


def kernel_grid_geometry(count: int, kh: int, kw: int, *, scale: int, pad: int) -> tuple[int, int, tuple[int, int]]:
    """``(columns, rows, (width, height))`` of the grid drawn for ``count`` kernels."""
    side = max(1, math.ceil(math.sqrt(count)))
    columns = next((d for d in range(side, 2 * side + 1) if count % d == 0), side)
    rows = max(1, math.ceil(count / columns))
    width = pad + columns * (kw * scale + pad)
    height = pad + rows * (kh * scale + pad)
    return columns, rows, (width, height)


def kernel_grid(weight: np.ndarray | torch.Tensor, *, scale: int | None = None, pad: int = 3) -> Image.Image:
    """Draw convolution weights ``(n, c, kh, kw)`` as the grid the module docstring describes."""
    if isinstance(weight, torch.Tensor):
        weight = weight.detach().float().cpu().numpy()
    weight = np.asarray(weight)
    if weight.ndim != 4 or weight.shape[0] == 0:
        raise ValueError(f"expected convolution weights of shape (n, c, kh, kw), got {weight.shape}")
    count, _, kh, kw = weight.shape
    if scale is None:
        scale = max(1, math.ceil(TARGET_KERNEL_PIXELS / max(kh, kw)))
    if scale < 1 or pad < 0:
        raise ValueError("scale must be at least 1 and pad at least 0")
    columns, _, size = kernel_grid_geometry(count, kh, kw, scale=scale, pad=pad)
    grid = Image.new("RGB", size, BACKGROUND)
    for i in range(count):
        picture = normalise_kernel(weight[i]).repeat(scale, axis=0).repeat(scale, axis=1)
        column, row = i % columns, i // columns
        grid.paste(Image.fromarray(picture), (pad + column * (kw * scale + pad), pad + row * (kh * scale + pad)))
    return grid
