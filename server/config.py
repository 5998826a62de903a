"""The server's settings, parsed once from flags and passed down as one frozen object.

Every limit and default is defined here and read everywhere else (the engines, the servicer's
``Info`` answer, ``latentspace serve``'s flags and their help).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["ArithmeticLimits", "MIN_TILE_SIZE", "MiB", "PictureLimits", "SearchTuning", "ServerConfig", "VisualizeLimits"]

MiB = 1 << 20

@dataclass(frozen=True)
class ArithmeticLimits:
    """How much one Combine, Shift, Walk or CreateDirection may ask for.

    Requests past a limit are INVALID_ARGUMENT with a message naming the limit; nothing is
    embedded or searched before these checks pass.
    """

    max_terms: int = 32
    """Most terms (positive and negative together) in one Combine."""
    max_steps: int = 64
    """Most strengths in one Shift and most points in one Walk."""
    max_alpha: float = 10.0
    """Largest |α| of a Shift, in lengths of the start vector."""
    max_examples: int = 256
    """Most examples on each side of a direction made from two sets."""
    candidate_factor: int = 10
    """On approximate indexes, candidates gathered per query: max(factor·k, min_candidates)."""
    min_candidates: int = 100

    def __post_init__(self) -> None:
        for name in ("max_terms", "max_examples", "candidate_factor", "min_candidates"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_steps < 2:
            raise ValueError(f"max_steps must be at least 2 (a walk has two ends), got {self.max_steps}")
        if not self.max_alpha > 0:
            raise ValueError(f"max_alpha must be positive, got {self.max_alpha}")

    def candidates(self, k: int) -> int:
        """How many neighbours to gather from an approximate index to rank ``k`` exactly."""
        return max(self.candidate_factor * k, self.min_candidates)


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


@dataclass(frozen=True)
class SearchTuning:
    """Search settings of an approximate index for this run, over those its manifest records
    (None keeps the recorded one). Only recall and speed change: candidates are re-scored exactly."""

    nprobe: int | None = None
    ef_search: int | None = None
    candidates: int | None = None

    def __post_init__(self) -> None:
        for name in ("nprobe", "ef_search", "candidates"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")

    def over(self, recorded):
        """``recorded`` (a SearchSettings) with the values given here."""
        from dataclasses import replace

        given = {name: getattr(self, name) for name in ("nprobe", "ef_search", "candidates")
                 if getattr(self, name) is not None}
        return replace(recorded, **given)


@dataclass(frozen=True)
class VisualizeLimits:
    """How much one Visualize may ask for, and how many optimisations run at once.

    A feature visualization is the heaviest request there is (a forward and a backward pass per
    step, minutes on a CPU), so by default one runs at a time: a request for another while it
    runs is refused at once with RESOURCE_EXHAUSTED (no queue: a caller would wait an unknown
    time holding a thread). Answers from the cache need no slot.
    """

    max_steps: int = 1024
    """Most optimisation steps of one request (the default request is 256)."""
    max_size: int = 512
    """Largest side of the image in pixels (the smallest is 32; the default 224)."""
    max_count: int = 8
    """Most images optimised together for one objective."""
    max_concurrent: int = 1
    """Optimisations running at once."""

    def __post_init__(self) -> None:
        for name in ("max_steps", "max_count", "max_concurrent"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_size < 32:
            raise ValueError(f"max_size must be at least 32, got {self.max_size}")


@dataclass(frozen=True)
class ServerConfig:
    """Where to listen, how much one request may ask for, and how requests are batched."""

    host: str = "127.0.0.1"
    port: int = 50051
    """0 picks a free port; :attr:`RunningServer.port` tells which."""
    max_k: int = 1000
    """Largest number of neighbours one query may ask for."""
    max_batch_queries: int = 128
    """Most queries in one BatchSearch."""
    max_add_images: int = 64
    """Most images in one AddImages."""
    max_ids: int = 10_000
    """Most ids in one GetItems or RemoveItems, and the largest ListItems page."""
    max_message_bytes: int = 64 * MiB
    """gRPC receive and send limit; larger messages are refused with RESOURCE_EXHAUSTED."""
    grace_seconds: float = 10.0
    """On shutdown, how long calls in flight may take to finish."""
    batch_window_ms: float = 5.0
    """How long the model worker waits for more image queries before a forward pass."""
    max_embed_batch: int = 64
    """Most images in one forward pass (one request's images always go in one pass)."""
    max_workers: int = 16
    """Threads answering RPCs."""
    max_concurrent_rpcs: int = 256
    """RPCs in progress or queued; beyond this new ones get RESOURCE_EXHAUSTED at once."""
    tls_cert: Path | None = None
    """PEM certificate chain; with ``tls_key``, the server speaks TLS only."""
    tls_key: Path | None = None
    """PEM private key of ``tls_cert``."""
    token_file: Path | None = None
    """A file holding the bearer token every call must carry; None leaves the service open."""
    token_for_health: bool = False
    """Whether health checks need the token too (by default probes need no secret)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    metrics_port: int | None = None
    """Serve Prometheus metrics over HTTP at ``host:metrics_port/metrics``; None: no metrics (0: a free port)."""
    arithmetic: ArithmeticLimits = ArithmeticLimits()
    """Limits of Combine, Shift, Walk and CreateDirection."""
    scan_chunk_bytes: int = 8 * MiB
    """Stored vectors (float32 bytes) one request reads at a time when it scores every row
    (a Flat index); its scoring then holds about four times this, however large the index."""
    pictures: PictureLimits = PictureLimits()
    """Limits of GetThumbnails and RenderSheet."""
    visualize: VisualizeLimits = VisualizeLimits()
    search: SearchTuning = SearchTuning()
    """Limits of Visualize, and how many run at once."""

    def __post_init__(self) -> None:
        positive = ("max_k", "max_batch_queries", "max_add_images", "max_ids", "max_message_bytes",
                    "max_embed_batch", "max_workers", "max_concurrent_rpcs", "scan_chunk_bytes")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ValueError(f"metrics port must be 0..65535, got {self.metrics_port}")
        if self.grace_seconds < 0 or self.batch_window_ms < 0:
            raise ValueError("grace_seconds and batch_window_ms must not be negative")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both a certificate and its key (--tls-cert and --tls-key)")
        if self.token_for_health and self.token_file is None:
            raise ValueError("health checks can only need a token when there is one (--token-file)")

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"
