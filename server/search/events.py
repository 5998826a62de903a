"""What the core reports as it works, for whoever watches: a small hook object, no-ops by default.

The core stays metrics-agnostic: it calls these methods and knows nothing of what records them.
``server/app.py`` passes :class:`~latentspace.server.metrics.ServerMetrics` (Prometheus) when
``--metrics-port`` is given; otherwise :data:`NO_EVENTS` costs a method call that does nothing.
"""

from __future__ import annotations

__all__ = ["NO_EVENTS", "ServingEvents"]


class ServingEvents:
    """Subclass and override what you need; each method is called from the thread doing the work."""

    def forward_pass(self, images: int, seconds: float) -> None:
        """One forward pass of ``images`` images (from one or several requests) took ``seconds``."""

    def index_search(self, queries: int, seconds: float) -> None:
        """One index search of ``queries`` query vectors took ``seconds``."""

    def queue_depth(self, stage: str, depth: int) -> None:
        """``depth`` parts now wait for the worker of ``stage`` (``embed`` or ``search``)."""


NO_EVENTS = ServingEvents()
