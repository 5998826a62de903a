"""A bounded soak: 16 clients on 127.0.0.1 mix image, id and vector searches with adds and removes
against ``latentspace serve`` for ``LATENTSPACE_SOAK_SECONDS`` (default 60).

No call may fail or answer wrongly; the server's resident memory at the end must be within 10%
of its level after a warm-up of the same mix; latencies per kind (p50, p99) are printed and
written to ``soak.json`` in the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from support.cli import export_arrays
from support.load import KINDS, Load, check_whole, percentiles, rss_kib
from support.photos import photo_bytes

SOAK_SECONDS = float(os.environ.get("LATENTSPACE_SOAK_SECONDS", "60"))
WARM_UP_SECONDS = max(5.0, SOAK_SECONDS / 4)
CLIENTS = 16
MEMORY_GROWTH = 0.10


def _run(address: str, seconds: float, seed: int, base, tag: str) -> Load:
    load = Load(address, clients=CLIENTS, seconds=seconds, max_calls=100_000, seed=seed,
                images=[photo_bytes(900 + i) for i in range(6)], add_images=[photo_bytes(950 + i) for i in range(6)],
                base_ids=base["ids"].tolist(), dim=base["vectors"].shape[1], tag=tag).start()
    load.join(seconds + 120)
    return load


@pytest.mark.slow
def test_soak(serve_process, small_index, tmp_path):
    base = export_arrays(small_index, tmp_path / "base.npz")
    child = serve_process(small_index, "--weights", "random:0")
    pid = child.proc.pid
    started_kib = rss_kib(pid)

    warm = _run(child.address, WARM_UP_SECONDS, 1, base, "warm")
    warm_kib = rss_kib(pid)
    started = time.monotonic()
    soak = _run(child.address, SOAK_SECONDS, 2, base, "soak")
    elapsed = time.monotonic() - started
    end_kib = rss_kib(pid)
    assert child.terminate() == 0

    report = {
        "seconds": round(elapsed, 1),
        "clients": CLIENTS,
        "calls": len(soak.calls),
        "calls_per_second": round(len(soak.calls) / elapsed, 1),
        "errors": sum(c.code is not None for c in soak.calls) + sum(c.code is not None for c in warm.calls),
        "latency": {kind: {k: round(v, 1) for k, v in percentiles(values).items()}
                    for kind, values in soak.by_kind().items()},
        "rss_kib": {"started": started_kib, "after_warm_up": warm_kib, "after_soak": end_kib},
        "rss_growth": round(end_kib / warm_kib - 1.0, 4),
        "adds": len(warm.acks.added) + len(soak.acks.added),
        "removes": len(warm.acks.removed) + len(soak.acks.removed),
    }
    out = tmp_path / "soak.json"
    out.write_text(json.dumps(report, indent=2))
    lines = [f"{kind:<7} n={r['n']:<6} p50 {r['p50_ms']:8.1f} ms  p99 {r['p99_ms']:8.1f} ms"
             for kind, r in report["latency"].items()]
    print(f"\nsoak: {report['calls']} calls in {report['seconds']} s by {CLIENTS} clients "
          f"({report['calls_per_second']}/s), {report['errors']} errors; RSS {started_kib // 1024} MiB at start, "
          f"{warm_kib // 1024} MiB after warm-up, {end_kib // 1024} MiB after ({report['rss_growth']:+.1%}); "
          f"report in {out}\n" + "\n".join(lines))

    assert warm.unexpected == [] and soak.unexpected == [], (warm.unexpected + soak.unexpected)[:5]
    assert report["errors"] == 0
    assert all(report["latency"][kind]["n"] > 0 for kind in KINDS), report["latency"]
    assert end_kib <= warm_kib * (1 + MEMORY_GROWTH), report["rss_kib"]

    exported = check_whole(small_index, tmp_path)  # every add was removed again by the client that made it
    added = set(warm.acks.added) | set(soak.acks.added)
    removed = warm.acks.removed | soak.acks.removed
    assert set(exported["ids"].tolist()) == set(base["ids"].tolist()) | (added - removed)
