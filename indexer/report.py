"""What an indexing run did: counts, skipped files with their reasons, timings."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["IndexReport", "SkippedFile"]


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str
    message: str


@dataclass
class IndexReport:
    indexed: int = 0
    """New files embedded and committed."""
    updated: int = 0
    """Files whose content changed, re-embedded (their old item replaced)."""
    unchanged: int = 0
    pruned: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    seconds: float = 0.0
    embedded_seconds: float = 0.0
    """Wall time of the decode+embed+commit loop only (excludes model loading and the final save)."""

    @property
    def images_per_second(self) -> float:
        done = self.indexed + self.updated
        return done / self.embedded_seconds if self.embedded_seconds > 0 else 0.0

    def skipped_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(s.reason for s in self.skipped).items()))
