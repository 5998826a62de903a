"""What the client returns and accepts: small frozen dataclasses, never protobuf messages.

Vectors are read-only float32 NumPy arrays; they are left out of equality comparisons.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Hit", "IndexInfo", "Item", "Limits", "NewImage", "Query", "SearchResult", "WeightsInfo", "as_vector"]


def as_vector(values) -> np.ndarray:
    """A read-only 1-D float32 copy of ``values``."""
    vector = np.array(values, dtype=np.float32).reshape(-1)
    vector.setflags(write=False)
    return vector


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    """Cosine (higher is better) or squared L2 distance (lower is better), as ``metric`` says."""
    path: str
    label: str


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[Hit, ...]
    metric: str

    @property
    def ids(self) -> list[int]:
        return [h.id for h in self.hits]

    @property
    def scores(self) -> list[float]:
        return [h.score for h in self.hits]

    def __len__(self) -> int:
        return len(self.hits)


@dataclass(frozen=True)
class Item:
    id: int
    path: str
    label: str
    sha256: str
    width: int
    height: int
    stored_file: str | None = None
    """For images added through the server: their copy, relative to the index directory."""
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class WeightsInfo:
    choice: str
    description: str
    sha256: str
    pretrained: bool


@dataclass(frozen=True)
class Limits:
    max_k: int
    max_batch_queries: int
    max_add_images: int
    max_ids: int
    max_message_bytes: int
    max_thumbnails: int = 0
    """Most ids in one ``thumbnails`` call (0: the server is older and draws no pictures)."""
    max_tile_size: int = 0
    """Largest side of a thumbnail or of a sheet's tiles, in pixels."""
    max_picture_pixels: int = 0
    """Most pixels in one answer: count × size² of thumbnails, or a sheet's width × height."""


@dataclass(frozen=True)
class IndexInfo:
    item_count: int
    dimension: int
    model: str
    layer: str
    weights: WeightsInfo
    metric: str
    faiss_factory: str
    uses_faiss: bool
    """False while searches are exact because the FAISS index is not trained yet."""
    device: str
    versions: Mapping[str, str]
    limits: Limits


def _read_image(image: bytes | bytearray | memoryview | str | os.PathLike) -> bytes:
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    return Path(image).read_bytes()


@dataclass(frozen=True)
class NewImage:
    """An image to add: its encoded bytes, and a relative path and a label kept as metadata."""

    data: bytes = field(repr=False)
    path: str = ""
    label: str = ""

    @classmethod
    def from_file(cls, file: str | os.PathLike, *, path: str | None = None, label: str = "") -> NewImage:
        """Read ``file``; its metadata path is ``path``, or else the file's name."""
        file = Path(file)
        return cls(file.read_bytes(), file.name if path is None else path, label)


@dataclass(frozen=True)
class Query:
    """One point to search from: exactly one of image bytes (or a file), an item id, or a vector."""

    image: bytes | None = field(default=None, repr=False)
    item_id: int | None = None
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        given = [name for name in ("image", "item_id", "vector") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a query needs exactly one of image, item_id or vector; got {given or 'none'}")
        if self.image is not None:
            object.__setattr__(self, "image", _read_image(self.image))
        if self.vector is not None:
            object.__setattr__(self, "vector", as_vector(self.vector))

    @classmethod
    def of(cls, value: Query | int | bytes | np.ndarray | str | os.PathLike) -> Query:
        """A query from a bare value: an int is an item id, bytes or a path an image, an array a vector."""
        if isinstance(value, Query):
            return value
        if isinstance(value, (bool, np.bool_)):
            raise TypeError("a bool is not a query")
        if isinstance(value, (int, np.integer)):
            return cls(item_id=int(value))
        if isinstance(value, (np.ndarray, list, tuple)):
            return cls(vector=np.asarray(value))
        return cls(image=_read_image(value))
