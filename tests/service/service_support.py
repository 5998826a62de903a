"""Helpers for the service tests: encoded photos, a test server config, exports, an exact oracle,
and ``latentspace serve`` in a child process.

Kept apart from ``conftest.py`` so tests can import them (``from service_support import ...``);
the drawing helpers of ``tests/conftest.py`` are loaded by path, since two modules named
``conftest`` cannot both be imported.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

_spec = importlib.util.spec_from_file_location("_latentspace_shared_fixtures", Path(__file__).parent.parent / "conftest.py")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
draw_photo = _shared.draw_photo
REPO = _shared.REPO

SERVE_TIMEOUT_S = 60.0


def photo_bytes(seed: int, base: tuple[int, int, int] = (200, 40, 30), fmt: str = "PNG") -> bytes:
    """Encoded bytes of a seeded synthetic photo (see ``draw_photo``)."""
    buffer = io.BytesIO()
    draw_photo(seed, base).save(buffer, format=fmt)
    return buffer.getvalue()


def server_config(**changes):
    """A server config for tests: a free port, short grace, and the given changes."""
    from latentspace.server.config import ServerConfig

    return ServerConfig(**{"host": "127.0.0.1", "port": 0, "grace_seconds": 2.0, "device": "cpu", **changes})


def export_arrays(index_dir: Path, out: Path) -> dict[str, np.ndarray]:
    """The index's stored ids, vectors, paths and labels, read back from ``latentspace export``."""
    from latentspace.cli.main import main

    assert main(["export", str(index_dir), "--out", str(out)]) == 0
    with np.load(out) as data:
        return {key: data[key] for key in data.files}


def brute_force(exported: dict[str, np.ndarray], query: np.ndarray, k: int, metric: str, *,
                keep: np.ndarray | None = None) -> tuple[list[int], list[float]]:
    """Exact top-k in float64: cosine descending, squared L2 ascending, ties to the smaller id."""
    ids, vectors = exported["ids"], exported["vectors"].astype(np.float64)
    mask = np.ones(len(ids), dtype=bool) if keep is None else keep
    ids, vectors = ids[mask], vectors[mask]
    q = np.asarray(query, dtype=np.float64)
    if metric == "cosine":
        scores = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)) @ (q / np.linalg.norm(q))
        order = np.lexsort((ids, -scores))
    else:
        scores = ((vectors - q) ** 2).sum(axis=1)
        order = np.lexsort((ids, scores))
    order = order[:k]
    return ids[order].tolist(), scores[order].tolist()


class ServeProcess:
    """``latentspace serve`` in a child process, with the address it printed."""

    def __init__(self, index_dir: Path, *extra: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "latentspace.cli.main", "serve", str(index_dir), "--port", "0",
             "--device", "cpu", "--grace", "5", *extra],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.address = self._read_address()

    def _read_address(self) -> str:
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            match = re.search(r" on (\S+:\d+)$", line.strip())
            if match:
                return match.group(1)
        self.kill()
        raise AssertionError(f"serve did not print its address; stderr:\n{self.proc.stderr.read()}")

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def close(self) -> None:
        self.kill()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
