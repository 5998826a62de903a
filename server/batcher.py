"""Batching image queries from concurrent requests into single model forward passes.

Callers decode and preprocess their images in their own (gRPC) thread, then hand the tensors
to one worker thread, which alone runs the model. The worker takes what is queued and waits for
more before running one forward pass over at most ``max_batch`` images, then resolves each
caller's future with its rows. One caller's tensors are never split across passes.

How long it waits: up to ``4 × window`` while other callers are still preparing images (they
are sure to come), up to ``window`` when the last pass served several callers (more are likely
on their way), and not at all when it served one and nobody else is preparing, so a lone
client pays no batching delay.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import torch

from latentspace.server.errors import ShuttingDown

__all__ = ["EmbedBatcher"]


@dataclass
class _Group:
    tensors: Sequence[torch.Tensor]
    future: Future = field(default_factory=Future)


class EmbedBatcher:
    """A queue of preprocessed images and the one thread that embeds them.

    ``embed_batch`` maps a float tensor ``(n, 3, H, W)`` to a float32 array ``(n, d)``; it is
    only ever called from the worker thread, so it need not be thread-safe.
    """

    def __init__(
        self, embed_batch: Callable[[torch.Tensor], np.ndarray], *, max_batch: int = 64, window_s: float = 0.005
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._embed_batch = embed_batch
        self._max_batch = max_batch
        self._window_s = window_s
        self._cond = threading.Condition()
        self._queue: deque[_Group] = deque()
        self._preparing = 0
        self._closed = False
        self._last_groups = 0
        self.passes = 0
        """Forward passes run so far."""
        self._worker = threading.Thread(target=self._run, name="embed-batcher", daemon=True)
        self._worker.start()

    def embed(self, prepare: Callable[[], Sequence[torch.Tensor]]) -> np.ndarray:
        """Run ``prepare`` here (decode, preprocess), embed its tensors in one pass: ``(n, d)``.

        While ``prepare`` runs the worker knows an image is coming and may wait for it, so
        concurrent callers share a pass. Exceptions of ``prepare`` and of the model propagate.
        """
        with self._cond:
            if self._closed:
                raise ShuttingDown("the server is shutting down; retry on another instance")
            self._preparing += 1
        try:
            tensors = prepare()
        except BaseException:
            with self._cond:
                self._preparing -= 1
                self._cond.notify_all()
            raise
        group = _Group(tensors)
        with self._cond:
            self._preparing -= 1
            if len(tensors):
                self._queue.append(group)
            self._cond.notify_all()
        if not len(tensors):
            raise ValueError("prepare() returned no tensors; there is nothing to embed")
        return group.future.result()

    def close(self) -> None:
        """Embed what is queued, then stop the worker; later calls raise :class:`ShuttingDown`."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join()

    # -- the worker ----------------------------------------------------------------------------

    def _take(self) -> list[_Group] | None:
        """The groups of the next pass, or None when closed and drained."""
        with self._cond:
            while not self._queue:
                if self._closed and not self._preparing:
                    return None
                self._cond.wait()
            start = time.monotonic()
            groups = [self._queue.popleft()]
            rows = len(groups[0].tensors)
            while rows < self._max_batch:
                if self._queue:
                    if rows + len(self._queue[0].tensors) > self._max_batch:
                        break
                    group = self._queue.popleft()
                    groups.append(group)
                    rows += len(group.tensors)
                    continue
                waited = time.monotonic() - start
                if self._preparing:
                    limit = 4 * self._window_s
                elif self._last_groups > 1 and not self._closed:
                    limit = self._window_s
                else:
                    break
                if waited >= limit:
                    break
                self._cond.wait(limit - waited)
            self._last_groups = len(groups)
            return groups

    def _run(self) -> None:
        while (groups := self._take()) is not None:
            try:
                batch = torch.stack([t for g in groups for t in g.tensors])
                vectors = self._embed_batch(batch)
            except Exception as exc:  # a model failure must reach every waiting caller
                for g in groups:
                    g.future.set_exception(exc)
                continue
            self.passes += 1
            row = 0
            for g in groups:
                g.future.set_result(vectors[row : row + len(g.tensors)])
                row += len(g.tensors)
