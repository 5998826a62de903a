"""What the client returns and accepts: small frozen dataclasses, never protobuf messages.

Vectors are read-only float32 NumPy arrays; they are left out of equality comparisons. Pictures
are PNG bytes, decoded with Pillow only when asked. :mod:`latentspace.client.convert` is the one
place these become wire messages and back.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "Direction",
    "Hit",
    "HitGroup",
    "ImageInput",
    "IndexInfo",
    "Item",
    "Limits",
    "NewImage",
    "PathResult",
    "PathStep",
    "Query",
    "QueryInput",
    "SearchResult",
    "SearchSettings",
    "Sheet",
    "Term",
    "TermInput",
    "Thumbnail",
    "Visualization",
    "VisualizeProgress",
    "WeightsInfo",
    "as_vector",
]

ImageInput = bytes | bytearray | memoryview | str | os.PathLike
"""An image as encoded bytes or the path of a file holding them."""


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
class HitGroup:
    """One label's best hits, from a search with ``group_by="label"``."""

    label: str
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[Hit, ...]
    metric: str
    groups: tuple[HitGroup, ...] = ()
    """With ``group_by="label"``: one group per label, best label first (``hits`` is then empty)."""

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
class SearchSettings:
    """How an approximate index is searched: FAISS gathers ``candidates`` neighbours probing
    ``nprobe`` IVF lists (an HNSW quantiser looks at ``ef_search`` centroids), re-scored exactly.
    An exact index ignores them."""

    nprobe: int
    ef_search: int
    candidates: int


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
    max_visualize_steps: int = 0
    """Most optimisation steps of one ``visualize`` (0: the server does not offer it)."""
    max_visualize_size: int = 0
    """Largest side in pixels of a ``visualize`` image."""
    max_visualize_count: int = 0
    """Most images of one ``visualize``."""
    max_concurrent_visualizations: int = 0
    """Optimisations the server runs at once; one more is ResourceExhausted (cached answers always come)."""


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
    search: SearchSettings | None = None
    """None from a server too old to say."""


def _read_image(image: ImageInput) -> bytes:
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
    def of(cls, value: QueryInput) -> Query:
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


QueryInput = Query | int | bytes | np.ndarray | str | os.PathLike
"""Anything :meth:`Query.of` accepts."""


# -- direction arithmetic ---------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One term of a combination: a point (image, item id or vector) or a stored direction's name.

    ``weight`` is how much it counts (None means 1; finite and > 0): whether it pulls towards or
    away depends on the list it is given in, positive or negative.
    """

    query: Query | None = None
    direction: str | None = None
    weight: float | None = None

    def __post_init__(self) -> None:
        if (self.query is None) == (self.direction is None):
            raise ValueError("a term needs exactly one of query or direction")

    @classmethod
    def named(cls, direction: str, *, weight: float | None = None) -> Term:
        """A stored direction as a term."""
        return cls(direction=direction, weight=weight)

    @classmethod
    def of(cls, value: TermInput, *, weight: float | None = None) -> Term:
        """A term from a bare value as :meth:`Query.of` reads it (an int is an item id, bytes or a
        path an image, an array a vector); a Term is kept, with ``weight`` if given."""
        if isinstance(value, Term):
            return value if weight is None else replace(value, weight=weight)
        return cls(query=Query.of(value), weight=weight)


TermInput = Term | QueryInput
"""Anything :meth:`Term.of` accepts."""


@dataclass(frozen=True)
class PathStep:
    position: float
    """The strength α of a shift, or the fraction t ∈ [0, 1] of the way for a walk."""
    result: SearchResult

    @property
    def ids(self) -> list[int]:
        return self.result.ids


@dataclass(frozen=True)
class PathResult:
    """One row of neighbours per point of a shift or a walk, in order."""

    steps: tuple[PathStep, ...]

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[PathStep]:
        return iter(self.steps)

    def __getitem__(self, index: int) -> PathStep:
        return self.steps[index]


@dataclass(frozen=True)
class Direction:
    """A named direction stored in the index."""

    name: str
    kind: str
    """How it was made: ``sets``, ``labels``, ``classes``, ``vector`` or ``learned``."""
    description: str
    created_at: float
    """Seconds since the Unix epoch."""
    dimension: int
    norm: float
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Read-only float32 ``(dimension,)``, when the call returns it."""
    accuracy: float | None = None
    """A learned direction's held-out probe accuracy, 0..1 (None for the other kinds)."""


# -- pictures -----------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class VisualizeProgress:
    """One optimisation step of a ``visualize`` call, as the server reports it."""

    step: int
    """Steps done, 1..steps."""
    steps: int
    value: float
    """The objective's value at this step (what the optimisation raises)."""


@dataclass(frozen=True)
class Visualization:
    """A feature visualization made by the server with its index's network."""

    pictures: tuple[bytes, ...] = field(repr=False)
    """``count`` PNGs (RGB, ``size`` × ``size``)."""
    value: float
    """The objective's value at the last step."""
    cached: bool
    """Served from the index directory's cache: no step ran, no progress was reported."""
    description: str
    """What was visualised, in words: ``class 'tabby' (281)``, ``stage6 channel 160``."""
    model: str
    steps: int
    size: int
    seed: int

    @property
    def png(self) -> bytes:
        """The first (usually the only) picture."""
        return self.pictures[0]

    def image(self, index: int = 0) -> Image.Image:
        """Picture ``index`` as an RGB Pillow image."""
        return _decode(self.pictures[index])

    def save(self, path: str | os.PathLike) -> Path:
        """Write the first picture's PNG to ``path`` and return it."""
        path = Path(path)
        path.write_bytes(self.png)
        return path
