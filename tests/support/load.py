"""Load for the lifecycle, kill and soak tests: client threads mixing searches with adds and removes,
bounded in calls and in time, and a check that an index directory is whole.

Every call is recorded (kind, start, end, status), so a test can ask which calls were in flight at
a given moment, which adds and removes were acknowledged, and the latency of each kind.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from support.cli import export_arrays

KINDS = ("image", "id", "vector", "add", "remove")


@dataclass(frozen=True)
class Call:
    kind: str
    started: float
    """time.monotonic() when the call was made."""
    ended: float
    code: str | None
    """None when it succeeded, else the status name (``UNAVAILABLE``)."""

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Acks:
    """What the server acknowledged: adds (id -> path, bytes) and removes; and adds left in doubt."""

    added: dict[int, tuple[str, bytes]] = field(default_factory=dict)
    removed: set[int] = field(default_factory=set)
    unanswered_adds: dict[str, bytes] = field(default_factory=dict)
    """Adds whose answer never came (the server was killed or stopping): stored or not, never half."""
    unanswered_removes: set[int] = field(default_factory=set)


class Load:
    """``clients`` threads calling ``address`` until ``stop()``, ``seconds`` pass or ``max_calls`` each.

    Searches use the ``base_ids`` (never removed), random vectors and ``images``; each client
    removes only what it added, so searches never meet a missing id. With ``stop_on_unavailable``
    a thread ends at its first UNAVAILABLE.
    """

    def __init__(self, address: str, *, clients: int, seconds: float, max_calls: int, images: list[bytes],
                 add_images: list[bytes], base_ids: list[int], dim: int, seed: int = 0,
                 write_share: float = 0.15, stop_on_unavailable: bool = False, timeout: float = 60.0,
                 tag: str = "load") -> None:
        self.address = address
        self.calls: list[Call] = []
        self.acks = Acks()
        self.unexpected: list[str] = []
        self._lock = threading.Lock()
        self._current: dict[int, float] = {}
        self._stop = threading.Event()
        self._until = time.monotonic() + seconds
        self._args = dict(max_calls=max_calls, images=images, add_images=add_images, base_ids=base_ids, dim=dim,
                          write_share=write_share, stop_on_unavailable=stop_on_unavailable, timeout=timeout, tag=tag)
        self._threads = [threading.Thread(target=self._run, args=(i, seed), name=f"load-{i}") for i in range(clients)]

    def start(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, end - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), "load threads did not stop"

    def finished(self) -> int:
        with self._lock:
            return len(self.calls)

    def running_for(self) -> list[float]:
        """How long each call now in progress has been running, in seconds."""
        now = time.monotonic()
        with self._lock:
            return [now - started for started in self._current.values()]

    def by_kind(self, *, ok_only: bool = True) -> dict[str, list[float]]:
        with self._lock:
            calls = list(self.calls)
        return {k: [c.seconds for c in calls if c.kind == k and (c.code is None or not ok_only)] for k in KINDS}

    def _record(self, kind: str, started: float, code: str | None) -> None:
        with self._lock:
            self.calls.append(Call(kind, started, time.monotonic(), code))
            self._current.pop(threading.get_ident(), None)

    def _run(self, number: int, seed: int) -> None:
        from latentspace import client as ls
        from latentspace.client import Client, NewImage

        a = self._args
        rng = np.random.default_rng([seed, number])
        mine: list[int] = []
        with Client(self.address, timeout=a["timeout"]) as client:
            for n in range(a["max_calls"]):
                if self._stop.is_set() or time.monotonic() > self._until:
                    return
                roll = rng.random()
                if roll < a["write_share"]:
                    kind = "remove" if mine and (len(mine) > 1 or rng.random() < 0.5) else "add"
                else:
                    kind = ("image", "id", "vector")[int(rng.integers(0, 3))]
                started = time.monotonic()
                with self._lock:
                    self._current[threading.get_ident()] = started
                path = f"{a['tag']}/{number}/{n}.png"
                data = a["add_images"][int(rng.integers(0, len(a["add_images"])))]
                target = mine[int(rng.integers(0, len(mine)))] if kind == "remove" else None
                try:
                    # A hit removed between the index search and the item lookup is dropped, so a
                    # search alongside removes may return fewer than k.
                    if kind == "image":
                        assert 1 <= len(client.search(a["images"][int(rng.integers(0, len(a["images"])))], k=5)) <= 5
                    elif kind == "id":
                        item = int(rng.choice(a["base_ids"]))
                        assert item not in client.search(item_id=item, k=5).ids
                    elif kind == "vector":
                        assert 1 <= len(client.search(vector=rng.normal(size=a["dim"]).astype(np.float32), k=5)) <= 5
                    elif kind == "add":
                        with self._lock:
                            self.acks.unanswered_adds[path] = data
                        [item] = client.add_images([NewImage(data, path, "load")])
                        assert item.path == path
                        with self._lock:
                            del self.acks.unanswered_adds[path]
                            self.acks.added[item.id] = (path, data)
                        mine.append(item.id)
                    else:
                        mine.remove(target)
                        with self._lock:
                            self.acks.unanswered_removes.add(target)
                        assert client.remove([target]) == [target]
                        with self._lock:
                            self.acks.unanswered_removes.discard(target)
                            self.acks.removed.add(target)
                    self._record(kind, started, None)
                except ls.LatentSpaceError as exc:
                    self._record(kind, started, exc.code)
                    if exc.code != "UNAVAILABLE":
                        with self._lock:
                            self.unexpected.append(f"{kind}: {exc}")
                    if exc.code == "UNAVAILABLE" and a["stop_on_unavailable"]:
                        return
                except AssertionError as exc:
                    self._record(kind, started, "WRONG_ANSWER")
                    with self._lock:
                        self.unexpected.append(f"{kind}: wrong answer: {exc}")


def percentiles(seconds: list[float]) -> dict[str, float]:
    """``{"n", "p50_ms", "p99_ms"}`` of a list of durations."""
    if not seconds:
        return {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan")}
    ms = np.asarray(seconds) * 1000.0
    return {"n": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def rss_kib(pid: int) -> int:
    """Resident memory of process ``pid`` (VmRSS of /proc/PID/status), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def check_whole(index_dir: Path, scratch: Path) -> dict[str, np.ndarray]:
    """Assert that ``index_dir`` is whole, as the next process to open it will find it; return its export.

    Works on a copy (the original stays exactly as it was left): the manifest's FAISS file must
    pass its checksum (a read-only open), and after the writer's open (which reconciles FAISS
    with SQLite) SQLite rows, the vector table, FAISS ids and the export must be the same ids,
    every stored vector must find itself (or its duplicate), and no path may be stored twice.
    """
    from latentspace.indexer import IndexStore

    copy = scratch / "copy"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns(".lock"))
    with IndexStore.open(copy, readonly=True) as reader:  # checksums of the FAISS file the manifest names
        assert reader.manifest.faiss_file is None or reader.faiss.ntotal >= 0
    with IndexStore.open(copy) as store:
        ids, vectors = store.snapshot()
        rows = [item.id for item in store.db.iter_items()]
        assert ids.tolist() == rows, "the vector table and the SQLite rows differ"
        assert store.db.count() == len(store) == len(rows)
        if len(ids):
            assert store.uses_faiss, "FAISS does not hold every item after reconciling"
            assert sorted(store.faiss.ids().tolist()) == rows
            # Each finds itself, or an item of the same bytes (batched forward passes differ by ~1e-8).
            _, found = store.search(vectors, k=1)
            np.testing.assert_allclose(vectors[np.searchsorted(ids, found[:, 0])], vectors, rtol=0, atol=1e-6)
    exported = export_arrays(copy, scratch / "export.npz")
    assert exported["ids"].tolist() == rows
    paths = exported["paths"].tolist()
    assert len(set(paths)) == len(paths), "a path is stored twice"
    with IndexStore.open(copy, readonly=True) as again:  # the reconciled FAISS file was saved and vouched for
        assert again.uses_faiss or not len(ids)
    return exported
