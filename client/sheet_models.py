"""What the picture calls return: PNG bytes in frozen dataclasses, decoded with Pillow only when asked."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from latentspace.client.arith_models import PathResult
from latentspace.client.models import SearchResult

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["Sheet", "Thumbnail"]


def _decode(png: bytes) -> Image.Image:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return image.convert("RGB")


@dataclass(frozen=True)
class Thumbnail:
    """A stored item's ``size × size`` thumbnail, made by the server."""

    id: int
    png: bytes = field(repr=False)
    missing_reason: str | None = None
    """None when ``png`` shows the item; otherwise ``png`` is a grey placeholder and this says why
    ("file missing", "file changed since it was indexed", ...)."""

    @property
    def missing(self) -> bool:
        return self.missing_reason is not None

    def image(self) -> Image.Image:
        """The thumbnail as an RGB Pillow image."""
        return _decode(self.png)


@dataclass(frozen=True)
class Sheet:
    """A contact sheet drawn by the server, and the results it shows."""

    png: bytes = field(repr=False)
    width: int
    height: int
    result: SearchResult | PathResult
    """The hits (search, combine) or one step per row (shift, walk), as the plain call returns them."""

    def image(self) -> Image.Image:
        """The sheet as an RGB Pillow image."""
        return _decode(self.png)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the PNG to ``path`` and return it."""
        path = Path(path)
        path.write_bytes(self.png)
        return path
