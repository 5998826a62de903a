"""The image being optimised: a Fourier spectrum scaled by 1/f, in decorrelated colours.

Optimising pixels directly finds high-frequency patterns that excite a unit but that nobody can
read (Olah, Mordvintsev & Schubert 2017, "Feature Visualization", Distill, section
"Preconditioning and Parameterization"). Two changes of variables fix most of it, as in Lucid
(``lucid/optvis/param/spatial.py`` ``fft_image``, ``param/color.py`` ``to_valid_rgb``) and its
PyTorch port lucent (``lucent/optvis/param/spatial.py``, ``color.py``):

* **Fourier basis, 1/f scaling.** The free parameters are the real and imaginary parts of a 2-D
  real FFT spectrum, each multiplied by ``1 / max(f, 1 / max(h, w)) ** decay_power`` before the
  inverse transform (``norm="ortho"``, Lucid's ``irfft2d · sqrt(h·w)``), then divided by 4
  (Lucid's constant). Natural images have amplitude spectra falling about as 1/f, so with equal
  steps for every parameter the low frequencies move as much as they do in photos.
* **Decorrelated colour.** The three planes are mixed by Lucid's ``color_correlation_svd_sqrt``
  (the square root of ImageNet's colour covariance, from its SVD) normalised by its largest
  column norm, so the first plane is roughly luminance and the others colour differences; a
  sigmoid then maps to 0..1.

Documented shape at step 0 (the spectrum drawn from N(0, sd²), sd = 0.01): the pre-sigmoid values
are small, so every channel's mean is 0.5 within a few thousandths; the radially averaged
amplitude spectrum of each channel falls as ``f ** -decay_power`` (slope −1 on log–log axes);
and the three channels are correlated as the rows of the colour matrix are (the
first column, luminance, dominates: R–G 0.91, G–B 0.91, R–B 0.79).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["COLOR_CORRELATION_SVD_SQRT", "FourierImage", "color_mixing", "rfft2d_freqs", "spectrum_scale"]

COLOR_CORRELATION_SVD_SQRT = np.asarray(
    [[0.26, 0.09, 0.02],
     [0.27, 0.00, -0.05],
     [0.27, -0.09, 0.03]], dtype=np.float32)
"""Lucid's square root of ImageNet's RGB covariance: row = output channel (R, G, B), column = plane."""

FOURIER_DIVISOR = 4.0
"""Lucid's constant: keeps the step-0 image and Adam's first steps in the sigmoid's linear range."""


def rfft2d_freqs(h: int, w: int) -> np.ndarray:
    """Frequency magnitudes ``(h, w // 2 + 1 [+1 when w is odd])`` of a real 2-D FFT, as Lucid's."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[: w // 2 + (2 if w % 2 == 1 else 1)]
    return np.sqrt(fx * fx + fy * fy)


def spectrum_scale(h: int, w: int, decay_power: float = 1.0) -> np.ndarray:
    """``1 / max(f, 1/max(h, w)) ** decay_power``: the DC term gets the scale of the lowest frequency."""
    return 1.0 / np.maximum(rfft2d_freqs(h, w), 1.0 / max(h, w)) ** decay_power


def color_mixing() -> torch.Tensor:
    """``(3, 3)``: decorrelated planes → RGB, the colour matrix over its largest column norm."""
    matrix = COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0))
    return torch.from_numpy(matrix.astype(np.float32))


class FourierImage(nn.Module):
    """``count`` images of ``size × size``, parametrised as the module docstring says.

    ``forward()`` gives RGB ``(count, 3, size, size)`` in 0..1. The spectra are drawn from
    ``generator`` one image after the other, so image j's start depends only on the seed and j.
    """

    def __init__(self, count: int, size: int, *, generator: torch.Generator, sd: float = 0.01,
                 decay_power: float = 1.0, decorrelate: bool = True) -> None:
        super().__init__()
        self.size = size
        freqs_shape = rfft2d_freqs(size, size).shape
        spectra = [torch.randn((3, *freqs_shape, 2), generator=generator) * sd for _ in range(count)]
        self.spectrum = nn.Parameter(torch.stack(spectra))
        scale = torch.from_numpy(spectrum_scale(size, size, decay_power).astype(np.float32))
        self.register_buffer("scale", scale[None, None, :, :, None])
        self.register_buffer("mixing", color_mixing() if decorrelate else torch.eye(3))

    def planes(self) -> torch.Tensor:
        """The image before colour mixing and sigmoid: ``(count, 3, size, size)``."""
        spectrum = torch.view_as_complex(self.scale * self.spectrum)
        image = torch.fft.irfftn(spectrum, s=(self.size, self.size), dim=(-2, -1), norm="ortho")
        return image[..., : self.size, : self.size] / FOURIER_DIVISOR

    def forward(self) -> torch.Tensor:
        planes = self.planes()
        rgb = torch.einsum("cp,nphw->nchw", self.mixing, planes)
        return torch.sigmoid(rgb)
