"""Indexes of many 4096-d vectors on one machine: build, disk, open, memory, latency, recall.

    python bench/scale.py --sizes 100000 [--dtype float16] [--vectors real.npz] [--workdir DIR]

Per size it prints one table row: build time and peak RSS of ``latentspace import-vectors``
(build from vectors, ``--faiss auto``), disk bytes per item, open time and private memory
(RssAnon) of a process that opens the index for writing as the server does, p50/p99 of a search
by vector (k=10) in process and through gRPC (``latentspace serve`` + the client), and recall@10
against an exact search of the same stored vectors.

Synthetic vectors (the default) are built to look like CNN features, not like noise: each is
``relu(M (c_y + z) + σ n)`` with a class ``y`` of 1000 (Zipf-like frequencies), ``c_y`` the class
centre and ``z`` the item's own offset, both in a 256-d latent space whose variances fall as
``1/i`` (the power-law spectrum of CNN features: a few directions carry most of the variance,
about 23 effectively), ``M`` a fixed orthogonal map into 4096-d, and ``n`` white noise. The ReLU
leaves about half the values zero, as in AlexNet fc7. Queries are other draws of the same process.
At 50k items a query's nearest stored item has cosine 0.84 on average, its 10th 0.80, its 1000th
0.51. ``--vectors`` takes real vectors instead (an ``.npz`` as ``bench/embed_crops.py`` or
``latentspace export`` writes): all but ``--queries`` rows spread evenly through it are indexed,
and those rows, never stored, are the queries (with embed_crops' file: views of photos whose other
views are stored).

The page cache makes memory-mapped vectors look like RAM once read; the private memory column is
RssAnon, which excludes them. Numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
LATENT, CLASSES = 256, 1000
INSTANCE_SCALE, NOISE_SCALE = 0.6, 0.2


def synthetic(n: int, dim: int, seed: int, chunk: int = 8192):
    """Chunks of CNN-like vectors (see the module docstring); the same seed gives the same data."""
    base = np.random.default_rng(12345)
    spread = (1.0 / np.arange(1, LATENT + 1)) ** 0.5  # standard deviations: variance ~ 1/i
    basis, _ = np.linalg.qr(base.normal(size=(dim, LATENT)))
    mix = (basis.T * np.sqrt(dim / LATENT)).astype(np.float32)
    centres = (base.normal(size=(CLASSES, LATENT)) * spread).astype(np.float32)
    weights = 1.0 / np.arange(1, CLASSES + 1) ** 0.5
    weights /= weights.sum()
    noise = np.float32(NOISE_SCALE * np.sqrt(np.sum(spread**2) / LATENT))
    rng = np.random.default_rng(seed)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        classes = rng.choice(CLASSES, size=m, p=weights)
        offsets = (rng.normal(size=(m, LATENT)) * spread * INSTANCE_SCALE).astype(np.float32)
        x = (centres[classes] + offsets) @ mix + noise * rng.normal(size=(m, dim)).astype(np.float32)
        yield np.maximum(x, 0).astype(np.float32)


def write_vectors(path: Path, n: int, dim: int) -> None:
    from latentspace.indexer.vector_io import write_npz_streamed

    write_npz_streamed(path, {
        "ids": ((n,), np.dtype(np.int64), iter([np.arange(n, dtype=np.int64)])),
        "vectors": ((n, dim), np.dtype(np.float32), synthetic(n, dim, seed=1)),
    })


def write_rows(path: Path, rows: np.ndarray, chunk: int = 8192) -> None:
    from latentspace.indexer.vector_io import write_npz_streamed

    write_npz_streamed(path, {
        "ids": ((len(rows),), np.dtype(np.int64), iter([np.arange(len(rows), dtype=np.int64)])),
        "vectors": (rows.shape, np.dtype(np.float32),
                    (rows[i : i + chunk].astype(np.float32) for i in range(0, len(rows), chunk))),
    })


def run_measured(command: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS bytes and output of a child process."""
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{out}")
    return time.monotonic() - start, usage.ru_maxrss * 1024, out


_PROBE = r"""
import dataclasses, json, sys, time
import numpy as np
from latentspace.indexer import IndexStore
from latentspace.indexer.exact import exact_search_chunks
t = time.monotonic()
store = IndexStore.open(sys.argv[1])
opened = time.monotonic() - t
queries = np.load(sys.argv[2])
settings = [store.manifest.search] + [dataclasses.replace(store.manifest.search, nprobe=int(p), candidates=int(c))
                                      for p, c in (s.split(":") for s in sys.argv[3:])]
truth = None
rows = []
for search in settings:
    store.tune(search)
    store.search(queries[:2], 10)
    lat, found = [], []
    for q in queries:
        t = time.perf_counter(); _, ids = store.search(q[None], 10); lat.append(time.perf_counter() - t); found.append(ids[0])
    if truth is None:
        anon = [int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("RssAnon")][0]
        truth = exact_search_chunks(queries, store.iter_vector_chunks(16384), 10, store.metric)[1]
    recall = float(np.mean([len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(found, truth)]))
    rows.append({"nprobe": search.nprobe, "candidates": search.candidates, "p50": float(np.percentile(lat, 50)),
                 "p99": float(np.percentile(lat, 99)), "recall": recall})
print(json.dumps({"open_s": opened, "rss_anon": anon, **rows[0], "sweep": rows[1:], "factory": store.manifest.faiss_factory}))
store.close(save=False)
"""


def grpc_latency(index: Path, queries: np.ndarray) -> tuple[float, float, int]:
    from latentspace.client import Client

    proc = subprocess.Popen([sys.executable, "-m", "latentspace.cli.main", "serve", str(index), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        address = None
        for line in proc.stdout:
            if "127.0.0.1:" in line:
                address = "127.0.0.1:" + line.split("127.0.0.1:")[1].split()[0].strip(".,)")
                break
        if address is None:
            raise SystemExit("the server did not start")
        with Client(address, timeout=60.0) as client:
            client.search(vector=queries[0], k=10)
            lat = []
            for q in queries:
                t = time.perf_counter()
                client.search(vector=q, k=10)
                lat.append(time.perf_counter() - t)
        anon = [int(line.split()[1]) * 1024 for line in open(f"/proc/{proc.pid}/status") if line.startswith("RssAnon")][0]
        return float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), anon
    finally:
        proc.terminate()
        proc.wait(timeout=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100000])
    parser.add_argument("--dim", type=int, default=4096)
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float16")
    parser.add_argument("--vectors", type=Path,
                        help="real vectors (.npz) instead of synthetic ones: all but --queries rows spread evenly "
                             "through the file are indexed, those are the queries (--sizes is then ignored)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-grpc", action="store_true")
    parser.add_argument("--sweep", nargs="*", default=["16:100", "32:200", "64:500"], metavar="NPROBE:CANDIDATES",
                        help="other search settings to measure in process, besides the index's own "
                             "(default 16:100 32:200 64:500)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true",
                        help="keep an index already built in --workdir (with its recorded build time and RSS) "
                             "and measure it again")
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does: idle OpenMP threads sleep
    work = args.workdir or Path(tempfile.mkdtemp(prefix="scale-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    if args.vectors:  # one size: the file's rows but --queries of them, spread evenly, held out as queries
        real = np.load(args.vectors)["vectors"]
        held = np.zeros(len(real), dtype=bool)
        held[np.linspace(0, len(real) - 1, args.queries).astype(np.int64)] = True
        args.sizes = [int((~held).sum())]
    for n in args.sizes:
        index = work / f"idx-{n}"
        record = work / f"idx-{n}.build.json"
        if args.vectors:
            source = work / f"real-{n}.npz"
            if not source.exists():
                write_rows(source, real[~held])
            queries = real[held].astype(np.float32)  # never stored; with embed_crops' file, views of stored photos
            model = ["--model", "none", "--dim", str(real.shape[1])]
        else:
            source = work / f"vectors-{n}.npz"
            if not source.exists():
                write_vectors(source, n, args.dim)
            queries = np.concatenate(list(synthetic(args.queries, args.dim, seed=99)))
            model = ["--model", "alexnet", "--weights", "random:0"]
        qfile = work / "queries.npy"
        np.save(qfile, queries.astype(np.float32))
        if args.reuse and record.exists() and index.exists():
            build_s, build_rss, out = json.loads(record.read_text())
        else:
            shutil.rmtree(index, ignore_errors=True)
            build_s, build_rss, out = run_measured([sys.executable, "-m", "latentspace.cli.main", "import-vectors",
                                                    str(index), "--vectors", str(source), *model,
                                                    "--vector-dtype", args.dtype, "--no-progress"])
            record.write_text(json.dumps([build_s, build_rss, out]))
        disk = sum(p.stat().st_size for p in index.rglob("*") if p.is_file())
        _, _, probe = run_measured([sys.executable, "-c", _PROBE, str(index), str(qfile), *args.sweep])
        found = json.loads(probe.strip().splitlines()[-1])
        g50 = g99 = g_anon = float("nan")
        if not args.no_grpc:
            g50, g99, g_anon = grpc_latency(index, queries[: min(100, len(queries))])
        rows.append((n, found["factory"], build_s, build_rss, disk / n, found, g50, g99, g_anon))
        print(out.strip().splitlines()[-1], file=sys.stderr)
    print(f"| items | index | build | build peak RSS | disk/item | open | RssAnon (in process) | p50 / p99 in process "
          f"| p50 / p99 gRPC | RssAnon (serve) | recall@10 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, factory, build_s, rss, per_item, f, g50, g99, g_anon in rows:
        print(f"| {n:,} | {factory} | {build_s:.0f} s | {rss / 2**30:.2f} GiB | {per_item / 1024:.1f} KiB | {f['open_s']:.2f} s "
              f"| {f['rss_anon'] / 2**20:.0f} MiB | {f['p50'] * 1e3:.1f} / {f['p99'] * 1e3:.1f} ms "
              f"| {g50 * 1e3:.1f} / {g99 * 1e3:.1f} ms | {g_anon / 2**20:.0f} MiB | {f['recall']:.3f} |")
    print()
    print("| items | nprobe | candidates | p50 / p99 in process | recall@10 |")
    print("|---|---|---|---|---|")
    for n, factory, build_s, rss, per_item, f, *_ in rows:
        for setting in [f, *f["sweep"]]:
            print(f"| {n:,} | {setting['nprobe']} | {setting['candidates']} | {setting['p50'] * 1e3:.1f} / "
                  f"{setting['p99'] * 1e3:.1f} ms | {setting['recall']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
