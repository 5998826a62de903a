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


def _member_round(batcher: Batcher, first: int, second: int, rejoin: threading.Event,
                  results: dict[int, int]) -> threading.Thread:
    """A member that submits ``first``, stays downstream until ``rejoin``, then submits ``second``."""

    def member() -> None:
        with batcher.member():
            results[first] = batcher.submit(lambda: first)
            rejoin.wait(timeout=30)
            results[second] = batcher.submit(lambda: second)

    thread = threading.Thread(target=member)
    thread.start()
    return thread


def _wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def test_a_call_waits_for_a_downstream_member_so_groups_do_not_alternate():
    """Caller 2 arrives while member 1 is downstream (in its index search, say): the worker holds
    2 until 1 comes back, and both share one call, instead of 1 and 2 alternating for ever."""
    run = _Recorder()
    batcher = Batcher(run, lambda part: 1, window_s=WINDOW_S)
    try:
        rejoin, results = threading.Event(), {}
        member = _member_round(batcher, 1, 3, rejoin, results)
        _wait_until(lambda: batcher.downstream == 1, "member 1 to be downstream")
        arrived = threading.Event()
        other = threading.Thread(target=lambda: results.__setitem__(2, batcher.submit(lambda: (arrived.set(), 2)[1])))
        other.start()
        assert arrived.wait(timeout=30)
        _wait_until(lambda: batcher.preparing == 0, "caller 2's part to be handed over")
        # Without the rule the worker would now run caller 2 alone, and member 1 would get a call of its own.
        assert other.is_alive() and run.calls == [[1]], "caller 2 is held while member 1 is downstream"
        rejoin.set()
        member.join(timeout=30)
        other.join(timeout=30)
        assert results == {1: 10, 2: 20, 3: 30}
        assert [sorted(c) for c in run.calls] == [[1], [2, 3]]
        assert batcher.downstream == 0, "a member that ended is no longer expected"
    finally:
        batcher.close()


def test_a_lone_member_is_never_downstream_when_it_submits_again():
    run = _Recorder()
    batcher = Batcher(run, lambda part: 1, window_s=WINDOW_S)
    try:
        with batcher.member():
            assert [batcher.submit(lambda v=v: v) for v in (1, 2, 3)] == [10, 20, 30]
            assert batcher.downstream == 1
        assert batcher.downstream == 0
        assert run.calls == [[1], [2], [3]]
    finally:
        batcher.close()


def test_a_member_that_does_not_come_back_delays_others_by_one_call_at_most():
    """The wait for downstream members is bounded (by the last call's duration, at least the window)."""
    run = _Recorder()
    batcher = Batcher(run, lambda part: 1, window_s=0.05)
    try:
        rejoin, results = threading.Event(), {}
        member = _member_round(batcher, 1, 3, rejoin, results)
        _wait_until(lambda: batcher.downstream == 1, "member 1 to be downstream")
        assert batcher.submit(lambda: 2) == 20
        assert run.calls == [[1], [2]], "caller 2 went ahead without the member that stayed away"
        rejoin.set()
        member.join(timeout=30)
        assert run.calls[2:] == [[3]]
    finally:
        batcher.close()
