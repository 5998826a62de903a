"""The manifest: what an index directory holds and how it was made, so loading can check it."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from latentspace.indexer.atomic import atomic_write_bytes

__all__ = [
    "FORMAT_VERSION", "NO_MODEL", "EmbedderInfo", "FileRecord", "IndexMismatch", "Manifest", "Metric", "SearchSettings",
    "package_versions",
]

FORMAT_VERSION = 2
"""2: vectors in shard files (vectors/), not in items.sqlite. 1 is read and migrated on open."""
READABLE_VERSIONS = (1, 2)
Metric = Literal["cosine", "l2"]


class IndexMismatch(ValueError):
    """An index directory was opened with an embedder other than the one that built it."""


NO_MODEL = "none"
"""The model (and layer and weights) recorded for vectors imported without an embedder."""


@dataclass(frozen=True)
class EmbedderInfo:
    """The embedder an index was built with, as recorded in its manifest."""

    model: str
    layer: str
    dimension: int
    weights: str
    """The ``--weights`` choice: ``imagenet``, ``random:SEED`` or a file path."""
    weights_description: str
    weights_sha256: str
    pretrained: bool
    precision: str = "fp32"
    """The forward pass's precision (fp32, bf16, fp16); manifests written before it was recorded are fp32."""

    @classmethod
    def from_embedder(cls, embedder: Any) -> EmbedderInfo:
        identity = embedder.identity
        return cls(
            model=embedder.spec.name,
            layer=embedder.layer.name,
            dimension=embedder.dim,
            weights=identity.choice,
            weights_description=identity.description,
            weights_sha256=identity.sha256,
            pretrained=identity.pretrained,
            precision=embedder.config.precision,
        )

    @property
    def vector_only(self) -> bool:
        """Whether the vectors came from no embedder latentspace knows (``import-vectors --model none``):
        such an index answers vector and item queries, never image ones."""
        return self.model == NO_MODEL

    def differences(self, other: EmbedderInfo) -> list[str]:
        """Human-readable differences that make vectors of ``self`` and ``other`` incomparable."""
        out = []
        for name in ("model", "layer", "dimension", "weights_sha256"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                if name == "weights_sha256":
                    out.append(
                        f"weights: index has {self.weights} ({self.weights_description}, sha256 {mine[:12]}…), "
                        f"asked for {other.weights} ({other.weights_description}, sha256 {theirs[:12]}…)"
                    )
                else:
                    out.append(f"{name}: index has {mine!r}, asked for {theirs!r}")
        if self.precision != other.precision:  # vectors of two precisions differ slightly: one index keeps one
            out.append(f"precision: index was embedded in {self.precision}, asked for {other.precision} "
                       f"(use --precision {self.precision}, or a new index)")
        return out


@dataclass(frozen=True)
class SearchSettings:
    """How an approximate index is searched; recorded in the manifest, ignored by exact indexes.

    FAISS gathers ``candidates`` neighbours (at least 10·k) probing ``nprobe`` IVF lists (HNSW
    coarse quantisers look at ``ef_search`` centroids); they are then re-scored exactly on the
    stored vectors, so scores are true cosines or distances and only recall depends on these.
    """

    nprobe: int = 32
    ef_search: int = 128
    candidates: int = 1000

    def __post_init__(self) -> None:
        for name in ("nprobe", "ef_search", "candidates"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class FileRecord:
    name: str
    sha256: str
    size: int


def package_versions() -> dict[str, str]:
    versions = {}
    for dist in ("latentspace", "torch", "torchvision", "faiss-cpu", "faiss-gpu-cu12", "numpy", "pillow"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass(frozen=True)
class Manifest:
    embedder: EmbedderInfo
    metric: Metric
    faiss_factory: str
    """The FAISS factory in use (what ``auto`` chose, or what was asked)."""
    count: int = 0
    faiss_file: FileRecord | None = None
    """The FAISS index file this manifest vouches for (absent before the first save)."""
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    versions: dict[str, str] = field(default_factory=package_versions)
    format_version: int = FORMAT_VERSION
    vector_dtype: str = "float32"
    """How vectors are stored in vectors/: float32 (exact) or float16 (half the disk, rounded)."""
    faiss_request: str = ""
    """What was asked with --faiss: ``auto`` (re-chosen as the index grows) or a factory string."""
    search: SearchSettings = field(default_factory=SearchSettings)

    def with_update(self, **changes: Any) -> Manifest:
        return replace(self, updated_at=time.time(), versions=package_versions(), **changes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw = json.loads(text)
        if raw.get("format_version") not in READABLE_VERSIONS:
            raise ValueError(f"unsupported index format version {raw.get('format_version')!r} (this is {FORMAT_VERSION})")
        faiss_file = raw.get("faiss_file")
        return cls(
            embedder=EmbedderInfo(**raw["embedder"]),
            metric=raw["metric"],
            faiss_factory=raw["faiss_factory"],
            count=int(raw["count"]),
            faiss_file=FileRecord(**faiss_file) if faiss_file else None,
            created_at=float(raw["created_at"]),
            updated_at=float(raw["updated_at"]),
            versions=dict(raw.get("versions", {})),
            format_version=raw["format_version"],
            vector_dtype=raw.get("vector_dtype", "float32"),
            faiss_request=raw.get("faiss_request") or raw["faiss_factory"],
            search=SearchSettings(**raw.get("search", {})),
        )

    def write(self, path: Path) -> None:
        atomic_write_bytes(path, self.to_json().encode())

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"cannot read the index manifest {path}: {exc}") from exc
