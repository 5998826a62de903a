"""The first-layer kernel grid: 8×8 tiles for AlexNet, each exactly its kernel stretched to 0..255."""

from __future__ import annotations

import numpy as np
import torch
from support.pictures import is_blank

from latentspace.render.kernels import BACKGROUND, first_conv_weight, kernel_grid, kernel_grid_geometry


def expected_tile(kernel: np.ndarray, scale: int) -> np.ndarray:
    """The documented normalisation, written out independently: (w - min) / (max - min) · 255, HWC, enlarged."""
    k = kernel.astype(np.float64)
    stretched = np.rint((k - k.min()) / (k.max() - k.min()) * 255).astype(np.uint8).transpose(1, 2, 0)
    return np.kron(stretched, np.ones((scale, scale, 1), dtype=np.uint8))


def test_alexnet_kernels_make_an_8_by_8_grid_of_their_own_pictures(random_embedder):
    weight = first_conv_weight(random_embedder)
    expected_weight = random_embedder.model.features[0].weight.detach().numpy()
    assert weight.shape == (64, 3, 11, 11)
    np.testing.assert_array_equal(weight, expected_weight)
    grid = kernel_grid(weight)
    scale, pad = 5, 3  # ceil(48 / 11) pixels per weight; 3 pixels between kernels
    assert grid.size == (pad + 8 * (11 * scale + pad),) * 2 == (467, 467)
    pixels = np.asarray(grid)
    for i in range(64):
        row, column = divmod(i, 8)
        left, top = pad + column * (55 + pad), pad + row * (55 + pad)
        np.testing.assert_array_equal(pixels[top : top + 55, left : left + 55], expected_tile(weight[i], scale), err_msg=f"kernel {i}")
    assert is_blank(grid.crop((0, 0, 467, pad)), BACKGROUND)
    assert is_blank(grid.crop((pad + 55, 0, pad + 55 + pad, 467)), BACKGROUND)


def test_efficientnet_kernels_make_an_8_by_4_grid():
    from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder

    embedder = load_embedder(EmbedderConfig(model="efficientnet-lite0", weights=WeightsChoice.parse("random:1")))
    weight = first_conv_weight(embedder)
    assert weight.shape == (32, 3, 3, 3)
    assert kernel_grid_geometry(32, 3, 3, scale=16, pad=3)[:2] == (8, 4)
    grid = kernel_grid(torch.from_numpy(weight), scale=16)
    assert grid.size == (3 + 8 * 51, 3 + 4 * 51)
    np.testing.assert_array_equal(np.asarray(grid)[3 + 51 : 3 + 51 + 48, 3 + 2 * 51 : 3 + 2 * 51 + 48], expected_tile(weight[10], 16))


def test_a_constant_kernel_is_mid_grey_and_a_grid_has_no_holes_but_the_last_row():
    weight = np.zeros((7, 3, 2, 2), dtype=np.float32)
    weight[1] = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    grid = np.asarray(kernel_grid(weight, scale=1, pad=0))
    assert grid.shape == (3 * 2, 3 * 2, 3)  # 7 kernels: 3 columns, 3 rows
    assert (grid[0:2, 0:2] == 128).all()
    np.testing.assert_array_equal(grid[0:2, 2:4], expected_tile(weight[1], 1))
    assert (grid[4:6, 2:6] == BACKGROUND).all(), "the two unused places of the last row stay background"
