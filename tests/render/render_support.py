"""Pixel comparisons shared by the picture tests."""

from __future__ import annotations

import numpy as np
from PIL import Image


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two same-size pictures, 0..255."""
    assert a.size == b.size, (a.size, b.size)
    return float(np.abs(np.asarray(a.convert("RGB"), dtype=np.int16) - np.asarray(b.convert("RGB"), dtype=np.int16)).mean())


def is_blank(image: Image.Image, colour: tuple[int, int, int]) -> bool:
    """True when every pixel is ``colour``."""
    return bool((np.asarray(image.convert("RGB")) == np.asarray(colour, dtype=np.uint8)).all())
