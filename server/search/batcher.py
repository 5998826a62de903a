"""Coalescing work from concurrent requests into single batched calls, on one worker thread.

Callers prepare their part in their own (gRPC) thread (decode and preprocess images, or resolve
query vectors) and hand it to a worker thread, which alone runs the batched call: one model
forward pass (:class:`EmbedBatcher`) or one index search (:class:`SearchBatcher`). The worker
takes what is queued and waits for more before each call, then resolves every caller's future
with its share. One caller's part is never split across calls.

How long the worker waits: up to ``4 × window`` while other callers are still preparing (they
are sure to come); after a call that served several callers, up to ``window`` for more (others
are likely on their way); and not at all after a call that served one, so a lone client pays
no batching delay. A *lockstep* batcher, whose callers are released together by one earlier
call (the index searches that follow a shared forward pass), stops waiting as soon as it holds
as many callers as its last call: nobody else is coming.

Continuous batching of a pipeline: a request that goes through several stages (decode, forward
pass, index search) is a *member* while it runs (:meth:`Batcher.member`). A member that has had
its result and is still in a later stage is *downstream*, and it is about to come back (its client
is waiting for the answer to send the next query). While members are downstream and nobody is
queued past them, the worker waits for them, up to the duration of its last call: so closed-loop
clients whose queries once fell into different calls rejoin one call instead of settling into
groups whose calls alternate. A lone member is never downstream when its next query arrives, so
it pays no delay.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import torch

from latentspace.server.errors import ShuttingDown
from latentspace.server.search.events import NO_EVENTS, ServingEvents

__all__ = ["Batcher", "EmbedBatcher", "SearchBatcher", "SearchJob"]

P = TypeVar("P")
R = TypeVar("R")


@dataclass
class _Member:
    downstream: bool = False


@dataclass
class _Group(Generic[P]):
    part: P
    size: int
    future: Future = field(default_factory=Future)


class Batcher(Generic[P, R]):
    """A queue of prepared parts and the one thread that runs ``run_batch`` over several at once.

    ``run_batch(parts)`` returns one result per part, in order; ``size(part)`` counts a part's
    rows against ``max_batch``. ``run_batch`` is only called from the worker thread.
    ``on_batch(rows, seconds)`` is told of each call that succeeded, ``on_queue(depth)`` of
    each change in the number of parts waiting (both from inside the batcher: keep them cheap).
    """

    def __init__(self, run_batch: Callable[[list[P]], list[R]], size: Callable[[P], int], *, max_batch: int = 64,
                 window_s: float = 0.005, lockstep: bool = False, name: str = "batcher",
                 on_batch: Callable[[int, float], None] | None = None,
                 on_queue: Callable[[int], None] | None = None) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run_batch = run_batch
        self._size = size
        self._max_batch = max_batch
        self._window_s = window_s
        self._lockstep = lockstep
        self._on_batch = on_batch
        self._on_queue = on_queue
        self._cond = threading.Condition()
        self._queue: deque[_Group[P]] = deque()
        self._preparing = 0
        self._downstream = 0
        self._local = threading.local()
        self._last_call_s = 0.0
        self._closed = False
        self._last_groups = 0
        self.calls = 0
        """Batched calls run so far."""
        self._worker = threading.Thread(target=self._work, name=name, daemon=True)
        self._worker.start()

    @contextmanager
    def member(self) -> Iterator[None]:
        """Count this thread's submissions, and the work it does after them, as one member's (see above)."""
        token = _Member()
        previous = getattr(self._local, "member", None)
        self._local.member = token
        try:
            yield
        finally:
            self._local.member = previous
            with self._cond:
                if token.downstream:
                    token.downstream = False
                    self._downstream -= 1
                    self._cond.notify_all()

    @property
    def preparing(self) -> int:
        """Callers running their ``prepare`` now (their parts are sure to come)."""
        with self._cond:
            return self._preparing

    @property
    def downstream(self) -> int:
        """Members that have had a result and have not yet ended or submitted again."""
        with self._cond:
            return self._downstream

    def submit(self, prepare: Callable[[], P]) -> R:
        """Run ``prepare`` here, then wait for the batched call that includes its part.

        While ``prepare`` runs the worker knows a part is coming and may wait for it, so
        concurrent callers share a call. Exceptions of ``prepare`` and of the call propagate.
        """
        token: _Member | None = getattr(self._local, "member", None)
        with self._cond:
            if self._closed:
                raise ShuttingDown(ShuttingDown.message)
            if token is not None and token.downstream:
                token.downstream = False
                self._downstream -= 1
            self._preparing += 1
        group: _Group[P] | None = None
        try:
            part = prepare()
            group = _Group(part, self._size(part))
        finally:
            with self._cond:
                self._preparing -= 1
                if group is not None:
                    self._queue.append(group)
                    self._queue_changed()
                self._cond.notify_all()
        try:
            return group.future.result()
        finally:
            if token is not None:
                with self._cond:
                    token.downstream = True
                    self._downstream += 1

    def close(self) -> None:
        """Run what is queued, then stop the worker; later submissions raise :class:`ShuttingDown`."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join()

    def _take(self) -> list[_Group[P]] | None:
        """The groups of the next call, or None when closed and drained."""
        with self._cond:
            while not self._queue:
                if self._closed and not self._preparing:
                    return None
                self._cond.wait()
            start = time.monotonic()
            groups = [self._queue.popleft()]
            rows = groups[0].size
            while rows < self._max_batch:
                if self._queue:
                    if rows + self._queue[0].size > self._max_batch:
                        break
                    group = self._queue.popleft()
                    groups.append(group)
                    rows += group.size
                    continue
                waited = time.monotonic() - start
                if self._preparing:
                    limit = 4 * self._window_s
                elif self._downstream and not self._closed:
                    limit = max(self._last_call_s, self._window_s)  # members about to rejoin
                elif self._expects_more(len(groups)) and not self._closed:
                    limit = self._window_s
                else:
                    break
                if waited >= limit:
                    break
                self._cond.wait(limit - waited)
            self._last_groups = len(groups)
            self._queue_changed()
            return groups

    def _queue_changed(self) -> None:
        """Called with the lock held."""
        if self._on_queue is not None:
            self._on_queue(len(self._queue))

    def _expects_more(self, groups: int) -> bool:
        """Whether callers not yet queued are likely to come soon (see the module docstring)."""
        return groups < self._last_groups if self._lockstep else self._last_groups > 1

    def _work(self) -> None:
        while (groups := self._take()) is not None:
            start = time.perf_counter()
            try:
                results = self._run_batch([g.part for g in groups])
            except Exception as exc:  # a failure must reach every waiting caller
                for g in groups:
                    g.future.set_exception(exc)
                continue
            self.calls += 1
            self._last_call_s = time.perf_counter() - start
            if self._on_batch is not None:
                self._on_batch(sum(g.size for g in groups), self._last_call_s)
            for g, result in zip(groups, results):
                g.future.set_result(result)


class EmbedBatcher:
    """Images from concurrent requests embedded in shared forward passes.

    ``embed_batch`` maps a tensor ``(n, 3, H, W)`` (``Embedder.prepare``'s uint8 images) to a
    float32 array ``(n, d)``.
    """

    def __init__(self, embed_batch: Callable[[torch.Tensor], np.ndarray], *, max_batch: int = 64,
                 window_s: float = 0.005, events: ServingEvents = NO_EVENTS) -> None:
        def run(parts: list[Sequence[torch.Tensor]]) -> list[np.ndarray]:
            vectors = embed_batch(torch.stack([t for part in parts for t in part]))
            bounds = np.cumsum([0] + [len(part) for part in parts])
            return [vectors[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

        self._batcher: Batcher[Sequence[torch.Tensor], np.ndarray] = Batcher(
            run, len, max_batch=max_batch, window_s=window_s, name="embed-batcher",
            on_batch=events.forward_pass, on_queue=lambda depth: events.queue_depth("embed", depth))

    def embed(self, prepare: Callable[[], Sequence[torch.Tensor]]) -> np.ndarray:
        """Run ``prepare`` here (decode, resize), then embed its tensors in one pass: ``(n, d)``."""

        def checked() -> Sequence[torch.Tensor]:
            tensors = prepare()
            if not len(tensors):
                raise ValueError("prepare() returned no tensors; there is nothing to embed")
            return tensors

        return self._batcher.submit(checked)

    def member(self):
        """``with embed_batcher.member():`` around a whole image query (see :meth:`Batcher.member`)."""
        return self._batcher.member()

    @property
    def passes(self) -> int:
        return self._batcher.calls

    def close(self) -> None:
        self._batcher.close()


@dataclass(frozen=True)
class SearchJob:
    """One request's searches: query vectors ``(n, d)``, k, and the ids each row must leave out."""

    vectors: np.ndarray
    k: int
    exclude: Sequence[Collection[int]]


class SearchBatcher:
    """Unfiltered searches from concurrent requests answered by one index search.

    One search over many queries reads the stored vectors once instead of once per request,
    which matters most when image queries leave a forward pass together. ``search`` is
    ``IndexStore.search``; each request gets its own rows, cut to its own k.
    """

    def __init__(self, search: Callable[..., tuple[np.ndarray, np.ndarray]], *, max_batch: int = 256,
                 window_s: float = 0.005, events: ServingEvents = NO_EVENTS) -> None:
        def run(jobs: list[SearchJob]) -> list[tuple[np.ndarray, np.ndarray]]:
            k = max(job.k for job in jobs)
            exclude = [row for job in jobs for row in job.exclude]
            scores, ids = search(np.concatenate([job.vectors for job in jobs]), k,
                                 exclude_ids=exclude if any(exclude) else None)
            bounds = np.cumsum([0] + [len(job.vectors) for job in jobs])
            return [(scores[a:b, : job.k], ids[a:b, : job.k]) for job, a, b in zip(jobs, bounds[:-1], bounds[1:])]

        self._batcher: Batcher[SearchJob, tuple[np.ndarray, np.ndarray]] = Batcher(
            run, lambda job: len(job.vectors), max_batch=max_batch, window_s=window_s, lockstep=True,
            name="search-batcher", on_batch=events.index_search,
            on_queue=lambda depth: events.queue_depth("search", depth))

    def search(self, job: SearchJob) -> tuple[np.ndarray, np.ndarray]:
        """``(scores (n, k), ids (n, k))`` for ``job``, searched together with other requests' jobs."""
        return self._batcher.submit(lambda: job)

    @property
    def calls(self) -> int:
        return self._batcher.calls

    def close(self) -> None:
        self._batcher.close()
