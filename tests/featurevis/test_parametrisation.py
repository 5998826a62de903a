"""The decorrelated Fourier parametrisation at step 0, and the robustness transforms (no network)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentspace.render.featurevis.parametrisation import FourierImage, color_mixing
from latentspace.render.featurevis.transforms import STANDARD, robust_view


def _images(decay_power: float = 1.0, decorrelate: bool = True, size: int = 128, count: int = 8) -> np.ndarray:
    image = FourierImage(count, size, generator=torch.Generator().manual_seed(3), decay_power=decay_power,
                         decorrelate=decorrelate)
    with torch.no_grad():
        return image().numpy().astype(np.float64)


def _spectrum_slope(images: np.ndarray) -> float:
    """Log–log slope of the radially averaged amplitude spectrum, over frequencies 2/size .. 0.35."""
    size = images.shape[-1]
    centred = images - images.mean(axis=(-2, -1), keepdims=True)
    amplitude = np.abs(np.fft.fft2(centred)).mean(axis=(0, 1))
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    radius = np.sqrt(fx ** 2 + fy ** 2)
    edges = np.geomspace(2 / size, 0.35, 12)
    centres, means = [], []
    for low, high in zip(edges[:-1], edges[1:]):
        ring = (radius >= low) & (radius < high)
        centres.append(np.sqrt(low * high))
        means.append(amplitude[ring].mean())
    return float(np.polyfit(np.log(centres), np.log(means), 1)[0])


def test_step_zero_channel_means_are_mid_grey():
    images = _images()
    assert images.shape == (8, 3, 128, 128)
    means = images.mean(axis=(0, 2, 3))
    np.testing.assert_allclose(means, 0.5, atol=0.005)
    assert images.std() > 1e-4  # not a constant picture


@pytest.mark.parametrize("decay_power", [1.0, 2.0])
def test_step_zero_spectrum_falls_as_one_over_f_to_the_decay_power(decay_power):
    slope = _spectrum_slope(_images(decay_power=decay_power))
    assert slope == pytest.approx(-decay_power, abs=0.2)


def test_step_zero_channels_are_correlated_as_the_colour_matrix_says():
    def correlations(images):
        flat = images.transpose(1, 0, 2, 3).reshape(3, -1)
        return np.corrcoef(flat)

    mixing = color_mixing().numpy().astype(np.float64)
    covariance = mixing @ mixing.T
    expected = covariance / np.sqrt(np.outer(np.diag(covariance), np.diag(covariance)))
    np.testing.assert_allclose(correlations(_images()), expected, atol=0.05)
    plain = correlations(_images(decorrelate=False))
    assert np.abs(plain[np.triu_indices(3, 1)]).max() < 0.1  # without the matrix the planes are independent


def test_same_seed_same_spectra_whatever_the_batch_around_them():
    one = FourierImage(1, 64, generator=torch.Generator().manual_seed(5)).spectrum.detach()
    three = FourierImage(3, 64, generator=torch.Generator().manual_seed(5)).spectrum.detach()
    assert torch.equal(one[0], three[0])
    assert not torch.equal(three[0], three[1])


def test_robust_views_are_seeded_and_pad_with_grey():
    images = torch.rand(2, 3, 224, 224)
    first = robust_view(images, torch.Generator().manual_seed(1))
    again = robust_view(images, torch.Generator().manual_seed(1))
    other = robust_view(images, torch.Generator().manual_seed(2))
    assert torch.equal(first, again)
    assert first.shape[:2] == (2, 3) and first.shape[-1] == 224 + 2 * STANDARD.pad - (STANDARD.jitter_first - 1) - (STANDARD.jitter_last - 1)
    assert not torch.equal(first, other)
    grey = robust_view(torch.full((1, 3, 224, 224), 0.5), torch.Generator().manual_seed(4))
    torch.testing.assert_close(grey, torch.full_like(grey, 0.5))  # padding and outside of a turn are grey
