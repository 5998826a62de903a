"""The one normaliser of vector rows, shared by the index, the search core and the arithmetic."""

from __future__ import annotations

import numpy as np

__all__ = ["unit_rows"]


def unit_rows(m: np.ndarray) -> np.ndarray:
    """Rows of ``m`` ``(n, d)`` scaled to unit length, in ``m``'s own float dtype.

    A row of norm zero stays zero (cosine 0 with anything) instead of becoming NaN.
    """
    m = np.asarray(m)
    norms = np.sqrt((m * m).sum(axis=1, keepdims=True))
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)
