"""The batching worker's waiting rules, with a long window so that a wait cannot hide in noise."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from latentspace.server.search.batcher import Batcher

WINDOW_S = 2.0


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def __call__(self, parts: list[int]) -> list[int]:
        self.calls.append(list(parts))
        return [p * 10 for p in parts]


@contextmanager
def _recording_batcher(*, lockstep: bool = False) -> Iterator[tuple[Batcher, _Recorder]]:
    """A batcher over a :class:`_Recorder` with the long window, closed afterwards."""
    run = _Recorder()
    batcher = Batcher(run, lambda part: 1, window_s=WINDOW_S, lockstep=lockstep)
    try:
        yield batcher, run
    finally:
        batcher.close()


def _round(batcher: Batcher, values: list[int], *, late: dict[int, float] | None = None) -> tuple[dict[int, int], float]:
    """Each value submitted from its own thread; ``late[v]`` delays that caller. Returns results and seconds."""
    late = late or {}
    on_time = [v for v in values if v not in late]
    together = threading.Barrier(len(on_time))
    results: dict[int, int] = {}

    def caller(v: int) -> None:
        if v in late:
            time.sleep(late[v])
            results[v] = batcher.submit(lambda: v)
        else:
            # Everyone is inside submit (counted as preparing) before anyone's part is ready.
            results[v] = batcher.submit(lambda: (together.wait(), v)[1])

    threads = [threading.Thread(target=caller, args=(v,)) for v in values]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results, time.monotonic() - started


def test_lockstep_call_is_not_held_back_once_as_many_callers_as_last_time_are_in():
    with _recording_batcher(lockstep=True) as (batcher, run):
        first, _ = _round(batcher, [1, 2, 3, 4])
        assert first == {1: 10, 2: 20, 3: 30, 4: 40}
        assert [sorted(c) for c in run.calls] == [[1, 2, 3, 4]]

        second, seconds = _round(batcher, [5, 6, 7, 8])
        assert second == {5: 50, 6: 60, 7: 70, 8: 80}
        assert sorted(run.calls[1]) == [5, 6, 7, 8]
        assert seconds < WINDOW_S / 2, f"four callers after a call of four waited {seconds:.2f} s"


@pytest.mark.parametrize("lockstep", [False, True])
def test_waits_for_a_caller_missing_from_the_last_calls_company(lockstep):
    with _recording_batcher(lockstep=lockstep) as (batcher, run):
        _round(batcher, [1, 2, 3, 4])
        results, _ = _round(batcher, [5, 6, 7, 8], late={8: 0.3})
        assert results == {5: 50, 6: 60, 7: 70, 8: 80}
        assert [sorted(c) for c in run.calls[1:]] == [[5, 6, 7, 8]], "the late caller got a call of its own"


def test_after_a_shared_call_waits_for_stragglers_beyond_the_last_company():
    """Callers that arrive independently may have split into halves; waiting lets them merge."""
    with _recording_batcher() as (batcher, run):
        _round(batcher, [1, 2])
        results, _ = _round(batcher, [3, 4, 5, 6], late={5: 0.3, 6: 0.3})
        assert results == {3: 30, 4: 40, 5: 50, 6: 60}
        assert [sorted(c) for c in run.calls[1:]] == [[3, 4, 5, 6]]


@pytest.mark.parametrize("lockstep", [False, True])
def test_a_lone_caller_is_not_held_back(lockstep):
    with _recording_batcher(lockstep=lockstep) as (batcher, run):
        started = time.monotonic()
        for v in range(3):
            assert batcher.submit(lambda v=v: v) == v * 10
        assert time.monotonic() - started < WINDOW_S / 2
        assert run.calls == [[0], [1], [2]]
