"""Transformation robustness: each step the network sees the image slightly moved, scaled, turned.

An image that excites a unit only at one exact pixel alignment is adversarial noise; one that
still excites it after small random jitter, scaling and rotation shows a feature (Olah et al.
2017, "Transformation robustness"). The chain is Lucid's ``standard_transforms``
(``lucid/optvis/transform.py``; lucent ``optvis/transform.py``), for a 224-pixel image:

    pad 12 (grey) → jitter 8 → scale by one of 0.90, 0.92, …, 1.10 → rotate by one of −10..10°
    (0° five times more likely) → jitter 4

Pixel amounts scale with the image's side (``side / 224``, at least 1). Jitter is a random crop
``d − 1`` pixels smaller, as Lucid's. Scale and rotation are one bilinear resample about the
centre that keeps the size (Lucid resizes; here zooming in crops and zooming out pads grey).
Draws come from a ``torch.Generator`` and are shared by the whole batch, so a seed fixes every
step and an image's path does not depend on the other images optimised beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["Robustness", "STANDARD", "robust_view"]


@dataclass(frozen=True)
class Robustness:
    """Lucid's standard transformation amounts, in pixels of a 224-pixel image."""

    pad: int = 12
    jitter_first: int = 8
    scales: tuple[float, ...] = tuple(1 + (i - 5) / 50 for i in range(11))
    angles: tuple[float, ...] = tuple(range(-10, 11)) + (0,) * 5
    jitter_last: int = 4

    def pixels(self, amount: int, side: int) -> int:
        return max(1, round(amount * side / 224))


STANDARD = Robustness()


def _choice(options: tuple[float, ...], generator: torch.Generator) -> float:
    return options[int(torch.randint(len(options), (1,), generator=generator))]


def _jitter(x: torch.Tensor, d: int, generator: torch.Generator) -> torch.Tensor:
    """A random crop ``d - 1`` pixels smaller in each direction (no crop when ``d <= 1``)."""
    if d <= 1:
        return x
    dx, dy = (int(v) for v in torch.randint(d, (2,), generator=generator))
    h, w = x.shape[-2:]
    return x[..., dy : dy + h - d + 1, dx : dx + w - d + 1]


def robust_view(images: torch.Tensor, generator: torch.Generator, robustness: Robustness = STANDARD) -> torch.Tensor:
    """``images (n, 3, h, w)`` in 0..1 → one random transformed view of each, differentiable.

    The result is a little smaller than the input (the jitters crop); the networks here pool
    globally, so any size works.
    """
    side = images.shape[-1]
    x = images - 0.5  # grey is zero, so padding and the resample's outside are grey
    x = F.pad(x, [robustness.pixels(robustness.pad, side)] * 4)
    x = _jitter(x, robustness.pixels(robustness.jitter_first, side), generator)
    scale = _choice(robustness.scales, generator)
    angle = math.radians(_choice(robustness.angles, generator))
    if scale != 1.0 or angle != 0.0:
        cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
        theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=x.dtype, device=x.device)
        grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    x = _jitter(x, robustness.pixels(robustness.jitter_last, side), generator)
    return x + 0.5
