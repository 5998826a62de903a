"""What can go wrong asking for a visualization, split the way a caller must answer it.

:class:`InvalidObjective` is a request that cannot be right as given (a unit out of range, a
vector of the wrong length, steps or size past their limits): gRPC's INVALID_ARGUMENT.
:class:`ObjectiveNotFound` names something that does not exist (a layer, a class, a direction,
an item): NOT_FOUND. Both messages name the valid choices or range.
"""

from __future__ import annotations

__all__ = ["FeatureVisError", "InvalidObjective", "ObjectiveNotFound"]


class FeatureVisError(ValueError):
    """A visualization that cannot be made as asked; the message says what to change."""


class InvalidObjective(FeatureVisError):
    """A value out of its range or of the wrong shape."""


class ObjectiveNotFound(FeatureVisError):
    """A layer, class, direction or item that does not exist."""
