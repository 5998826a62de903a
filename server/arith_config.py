"""Limits of the direction-arithmetic RPCs, one frozen object inside :class:`ServerConfig`."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ArithmeticLimits"]


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
