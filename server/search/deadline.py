"""A caller's deadline, checked by long work between its stages.

gRPC stops waiting for an answer when the client's deadline passes, but the handler thread runs
on unless it looks. :func:`latentspace.server.rpc.convert.deadline` turns the call's
``context.time_remaining()`` into a :class:`Deadline`; the engines call :meth:`Deadline.check`
between decoding images, the forward pass, the index search and the commit, so work nobody
waits for stops early and frees its thread.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from latentspace.server.errors import DeadlineExceeded

__all__ = ["Deadline", "NO_DEADLINE"]


@dataclass(frozen=True)
class Deadline:
    """When the caller stops waiting, on the monotonic clock; ``None`` means never."""

    at: float | None = None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """A deadline ``seconds`` from now; ``None`` or infinity means none."""
        if seconds is None or math.isinf(seconds):
            return NO_DEADLINE
        return cls(time.monotonic() + max(0.0, float(seconds)))

    def remaining(self) -> float | None:
        return None if self.at is None else self.at - time.monotonic()

    def check(self, stage: str) -> None:
        """Raise :class:`DeadlineExceeded` if the deadline has passed; ``stage`` says where work stopped."""
        if self.at is not None and time.monotonic() >= self.at:
            raise DeadlineExceeded(f"the caller's deadline passed {stage}; the request was abandoned there "
                                   f"and nothing was stored")


NO_DEADLINE = Deadline()
