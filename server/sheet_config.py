"""Limits of the picture RPCs (GetThumbnails, RenderSheet), one frozen object inside :class:`ServerConfig`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIN_TILE_SIZE", "PictureLimits"]

MIN_TILE_SIZE = 16
"""Below this a thumbnail shows nothing recognisable and its caption does not fit."""


@dataclass(frozen=True)
class PictureLimits:
    """How much one GetThumbnails or RenderSheet may ask for.

    Both are checked before anything is decoded or drawn: a count or a size out of range is
    INVALID_ARGUMENT (a size) or RESOURCE_EXHAUSTED (a count, or too many pixels), with a message
    that says what would fit.
    """

    max_thumbnails: int = 256
    """Most ids in one GetThumbnails."""
    max_tile_size: int = 512
    """Largest side of a thumbnail or of a sheet's tiles, in pixels."""
    max_picture_pixels: int = 20_000_000
    """Most pixels in one answer: count × size² of thumbnails, or a sheet's width × height
    (20 Mpx of RGB is 60 MB raw, and its PNG stays under the default 64 MiB message limit)."""

    def __post_init__(self) -> None:
        for name in ("max_thumbnails", "max_picture_pixels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_tile_size < MIN_TILE_SIZE:
            raise ValueError(f"max_tile_size must be at least {MIN_TILE_SIZE}, got {self.max_tile_size}")
