"""Search latency through gRPC versus in process, and image-query throughput versus the bare model.

For each index size (synthetic vectors, a Flat cosine index built through the store API in a
temporary folder) this measures p50/p99 latency of searches by item id, by raw vector and by
image, alternating calls to the server's engine in process with the same searches through
gRPC on 127.0.0.1 and the client library. It then runs 8 concurrent clients in another process
(searching by image, then only embedding) and compares their rate with the model's own forward
rate on batches of 8 preprocessed images, measured just before and after.

    python bench/serve_latency.py                       # 10k and 100k items, AlexNet fc7 random
    python bench/serve_latency.py --sizes 10000 --queries 200

The last table is the acceptance list: 8 concurrent image-query clients against the model's batched
rate (target ≥ 0.75 on 10k Flat); a lone image query's p50 (within 5% of the previous release's,
given with --lone-baseline-ms); and what the full client → server → client path of a search by
vector adds at p50 over the bare-grpcio baseline of the same search, the two called alternately in
one loop (target ≤ 0.25 ms). Weights are random: this is about speed, not about neighbours.

Two reference points say how far those targets are from what this machine allows. "bare gRPC"
runs the same search by vector behind a plain grpcio server with one bytes-in, bytes-out method
(no latentspace service code, no protobuf): what gRPC alone adds to a call of that length. And
the work of one round of image queries (decode, forward pass, index search), timed stage by stage,
gives the rate the clients would reach if the stages ran back to back on all cores.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from latentspace.cli.openmp import prefer_sleeping_openmp_threads

OMP_WAIT_POLICY = prefer_sleeping_openmp_threads()  # as `latentspace serve` does, before torch and faiss load

import grpc
import numpy as np
import torch
from PIL import Image

from latentspace.client import Client
from latentspace.indexer import EmbedderConfig, EmbedderInfo, IndexSettings, IndexStore, NewItem, WeightsChoice, load_embedder
from latentspace.indexer.images import decode_image
from latentspace.server.app import create_server
from latentspace.server.config import ServerConfig
from latentspace.server.search.engine import SearchEngine
from latentspace.server.search.queries import ImageQuery, ItemQuery, SearchOptions, VectorQuery

K = 10


def synthetic_photo(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    """A JPEG of a smooth random colour field with noise: decodes and resizes like a small photo."""
    rng = np.random.default_rng(seed)
    w, h = size
    coarse = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((w, h), Image.BICUBIC)
    pixels = np.asarray(image, dtype=np.int16) + rng.integers(-20, 20, (h, w, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def build_index(directory: Path, embedder, count: int, seed: int = 0) -> None:
    """``count`` items with non-negative random vectors (fc7 is post-ReLU), committed in chunks."""
    rng = np.random.default_rng(seed)
    with IndexStore.create(directory, EmbedderInfo.from_embedder(embedder), IndexSettings("cosine", "Flat")) as store:
        for start in range(0, count, 5000):
            n = min(5000, count - start)
            vectors = np.abs(rng.normal(size=(n, embedder.dim))).astype(np.float32)
            store.add([NewItem(path=f"synthetic/{start + i:07d}.jpg", label=f"l{(start + i) % 10}",
                               sha256=f"{start + i:064x}", width=320, height=240, vector=v)
                       for i, v in enumerate(vectors)])


def _timed(call: Callable[[int], object], i: int) -> float:
    t0 = time.perf_counter()
    call(i)
    return (time.perf_counter() - t0) * 1000


def measure_pair(local: Callable[[int], object], remote: Callable[[int], object], pool: ThreadPoolExecutor,
                 samples: int, warmup: int = 3, budget_s: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Wall times in ms of alternating in-process and gRPC calls, so both see the same machine load.

    In-process calls run (and are timed) in ``pool``'s thread, as the server runs them in its RPC
    threads: OpenMP keeps per-thread state, and the main thread was measured slower on a busy machine.
    """
    for i in range(warmup):
        pool.submit(local, i).result()
        remote(i)
    local_ms, remote_ms = [], []
    stop = time.perf_counter() + budget_s
    for i in range(samples):
        if i % 2:
            remote_ms.append(_timed(remote, i))
            local_ms.append(pool.submit(_timed, local, i).result())
        else:
            local_ms.append(pool.submit(_timed, local, i).result())
            remote_ms.append(_timed(remote, i))
        if time.perf_counter() > stop and len(local_ms) >= 10:
            break
    return np.array(local_ms), np.array(remote_ms)


def interleaved(first: Callable[[int], object], second: Callable[[int], object], samples: int,
                warmup: int = 3, budget_s: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """Wall times in ms of ``first`` and ``second`` called alternately from this thread (order swapped each time)."""
    for i in range(warmup):
        first(i)
        second(i)
    a, b = [], []
    stop = time.perf_counter() + budget_s
    for i in range(samples):
        for call, out in ((first, a), (second, b)) if i % 2 else ((second, b), (first, a)):
            out.append(_timed(call, i))
        if time.perf_counter() > stop and len(a) >= 10:
            break
    return np.array(a), np.array(b)


def latencies(engine: SearchEngine, client: Client, ids: np.ndarray, dim: int, images: list[bytes],
              samples: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """For each query kind: (in-process ms, gRPC ms) of the same searches; and, as ``service vs bare``,
    (bare-grpcio ms, client ms) of one search by vector, interleaved."""
    rng = np.random.default_rng(1)
    vectors = np.abs(rng.normal(size=(samples + 10, dim))).astype(np.float32)
    picks = rng.choice(ids, size=samples + 10)
    options = SearchOptions(k=K)
    pairs = {
        "by id": (lambda i: engine.search(ItemQuery(int(picks[i])), options),
                  lambda i: client.search(item_id=int(picks[i]), k=K)),
        "by vector": (lambda i: engine.search(VectorQuery(vectors[i]), options),
                      lambda i: client.search(vector=vectors[i], k=K)),
        "by image": (lambda i: engine.search(ImageQuery(images[i % len(images)]), options),
                     lambda i: client.search(images[i % len(images)], k=K)),
    }
    bare_search = _search_by_vector_bytes(engine, options)
    with bare_grpc_server(bare_search) as bare_call:
        pairs["bare gRPC"] = (lambda i: bare_search(vectors[i].tobytes()), lambda i: bare_call(vectors[i].tobytes()))
        with ThreadPoolExecutor(1) as pool:
            out = {kind: measure_pair(local, remote, pool, samples) for kind, (local, remote) in pairs.items()}
        out["service vs bare"] = interleaved(lambda i: bare_call(vectors[i].tobytes()),
                                             lambda i: client.search(vector=vectors[i], k=K), samples)
        return out


def _search_by_vector_bytes(engine: SearchEngine, options: SearchOptions) -> Callable[[bytes], bytes]:
    """The engine's search by vector, taking raw float32 bytes and returning the hit ids as int64 bytes."""

    def search(request: bytes) -> bytes:
        result = engine.search(VectorQuery(np.frombuffer(request, dtype=np.float32)), options)
        return np.array([hit.id for hit in result.hits], dtype=np.int64).tobytes()

    return search


@contextmanager
def bare_grpc_server(work: Callable[[bytes], bytes]) -> Iterator[Callable[[bytes], bytes]]:
    """A plain grpcio server on 127.0.0.1 whose one method runs ``work``; yields a blocking caller."""
    method = grpc.unary_unary_rpc_method_handler(lambda request, context: work(request))
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Bare", {"Work": method}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        call = channel.unary_unary("/bench.Bare/Work")
        yield lambda request: call(request, timeout=120)
    finally:
        channel.close()
        server.stop(grace=None)


@dataclass(frozen=True)
class RoundCosts:
    """Wall times of the stages of one round of ``queries`` image queries, each stage run alone."""

    queries: int
    prepare_ms: float
    """Decoding and preparing one image on one core (the server does this in each request's thread)."""
    forward_ms: float
    search_ms: float

    def rate(self, cores: int) -> float:
        """Images per second if the stages ran back to back, preparation spread over ``cores``."""
        round_ms = self.queries * self.prepare_ms / cores + self.forward_ms + self.search_ms
        return self.queries / round_ms * 1000


def round_costs(engine: SearchEngine, images: list[bytes], queries: int, model_rate: float,
                repeats: int = 10) -> RoundCosts:
    """Time image preparation and one search of ``queries`` vectors; the forward pass from ``model_rate``."""
    embedder = engine.embedder
    prepare = []
    for data in images:
        t0 = time.perf_counter()
        embedder.prepare(decode_image(data).image)
        prepare.append((time.perf_counter() - t0) * 1000)
    rng = np.random.default_rng(2)
    vectors = np.abs(rng.normal(size=(queries, embedder.dim))).astype(np.float32)

    def search() -> list[float]:
        engine.store.search(vectors, K)
        out = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            engine.store.search(vectors, K)
            out.append((time.perf_counter() - t0) * 1000)
        return out

    with ThreadPoolExecutor(1) as pool:  # like the server's search worker, not the main thread
        searches = pool.submit(search).result()
    return RoundCosts(queries, float(np.median(prepare)), queries / model_rate * 1000, float(np.median(searches)))


def round_trip_ms(client: Client, samples: int) -> np.ndarray:
    """Wall times of health checks: gRPC's own round trip with no work behind it, for scale."""
    for _ in range(3):
        client.health()
    out = []
    for _ in range(samples):
        t0 = time.perf_counter()
        client.health()
        out.append((time.perf_counter() - t0) * 1000)
    return np.array(out)


def forward_rate(embedder, images: list[bytes], batch: int, seconds: float = 6.0) -> float:
    """Images per second of ``embed_batch`` alone on batches of ``batch`` preprocessed images.

    Run in a fresh thread, like the server's batching worker: OpenMP keeps per-thread state,
    and the main thread of this process was measured slower on a busy machine.
    """
    tensors = torch.stack([embedder.preprocess(decode_image(images[i % len(images)]).image) for i in range(batch)])

    def run() -> float:
        embedder.embed_batch(tensors)
        done, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            embedder.embed_batch(tensors)
            done += batch
        return done / (time.perf_counter() - t0)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _client_load(address: str, images: list[bytes], clients: int, seconds: float, embed_only: bool, results) -> None:
    """In a separate process (as real clients are): ``clients`` threads searching by (or embedding) images."""
    counts = [0] * clients
    ready = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def run(slot: int) -> None:
        with Client(address, timeout=120) as c:
            call = c.embed if embed_only else (lambda image: c.search(image, k=K))
            call(images[slot % len(images)])  # connect and warm up
            ready.wait()
            i = slot
            while time.perf_counter() < stop_at[0]:
                call(images[i % len(images)])
                counts[slot] += 1
                i += clients

    threads = [threading.Thread(target=run, args=(s,)) for s in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + 3600
    ready.wait()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    for t in threads:
        t.join()
    results.put((sum(counts), time.perf_counter() - t0))


def client_throughput(address: str, images: list[bytes], clients: int, seconds: float, embedder,
                      *, embed_only: bool = False) -> tuple[float, float]:
    """Images per second answered to ``clients`` concurrent image clients, and the mean forward batch."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_client_load, args=(address, images, clients, seconds, embed_only, results))
    passes_before = embedder.forward_calls
    child.start()
    total, elapsed = results.get(timeout=seconds + 300)
    child.join(timeout=60)
    passes = max(embedder.forward_calls - passes_before, 1)
    return total / elapsed, (total + clients) / passes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated index sizes (default 10000,100000)")
    parser.add_argument("--queries", type=int, default=100, help="timed searches per kind and mode (default 100)")
    parser.add_argument("--model", default="alexnet", help="embedder model (default alexnet)")
    parser.add_argument("--weights", default="random", help="embedder weights (default random: speed only)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent image-query clients (default 8)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the throughput run (default 10)")
    parser.add_argument("--batch-window-ms", type=float, default=ServerConfig.batch_window_ms,
                        help=f"the server's batching window, as `serve --batch-window-ms` "
                             f"(default {ServerConfig.batch_window_ms:g})")
    parser.add_argument("--lone-baseline-ms", type=float, default=None,
                        help="a lone image query's p50 measured with the previous release, to compare with")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    embedder = load_embedder(EmbedderConfig(model=args.model, weights=WeightsChoice.parse(args.weights)), device="cpu")
    images = [synthetic_photo(s) for s in range(32)]
    config = ServerConfig(host="127.0.0.1", port=0, device="cpu", batch_window_ms=args.batch_window_ms)
    print(f"{embedder.spec.name} {embedder.layer.name} ({embedder.dim}-d, {embedder.identity.choice}) on "
          f"{embedder.device.type}, torch threads {torch.get_num_threads()}, OMP_WAIT_POLICY={OMP_WAIT_POLICY}; batch window {args.batch_window_ms:g} ms; k={K}; Flat cosine index; "
          f"images {Image.open(io.BytesIO(images[0])).size[0]}x{Image.open(io.BytesIO(images[0])).size[1]} JPEG",
          file=sys.stderr)

    rows, throughput, trips = [], [], []
    costs: RoundCosts | None = None
    with tempfile.TemporaryDirectory(prefix="serve-latency-") as tmp:
        for size in sizes:
            directory = Path(tmp) / f"idx-{size}"
            t0 = time.perf_counter()
            build_index(directory, embedder, size)
            print(f"built {size} items in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

            running = create_server(directory, config, embedder=embedder)
            try:
                # In process means the server's own engine, called directly: same store, same batcher.
                ids = running.engine.store.ids()
                with Client(running.address, timeout=120) as client:
                    measured = latencies(running.engine, client, ids, embedder.dim, images, args.queries)
                    trips.append(round_trip_ms(client, args.queries))
                if not throughput:  # the model's rate is measured just before and after, as load varies
                    for embed_only in (False, True):
                        before = forward_rate(embedder, images, args.clients)
                        rate, batch = client_throughput(running.address, images, args.clients, args.seconds,
                                                        embedder, embed_only=embed_only)
                        after = forward_rate(embedder, images, args.clients)
                        throughput.append((size, embed_only, rate, batch, before, after))
                    costs = round_costs(running.engine, images, args.clients, (before + after) / 2)
            finally:
                running.stop(grace=5)
            for kind, (local, remote) in measured.items():
                rows.append((size, kind, local, remote))
            print(f"measured {size} items", file=sys.stderr)

    print()
    header = (f"{'items':>7}  {'query':<9}  {'n':>4}  {'in-process p50':>14}  {'p99':>7}  {'gRPC p50':>9}  {'p99':>7}  "
              f"{'gRPC adds (p50)':>15}")
    print(header)
    print("-" * len(header))
    for size, kind, local, remote in rows:
        if kind == "service vs bare":
            continue
        lp50, lp99 = np.percentile(local, [50, 99])
        rp50, rp99 = np.percentile(remote, [50, 99])
        print(f"{size:>7}  {kind:<9}  {len(remote):>4}  {lp50:>11.2f} ms  {lp99:>7.2f}  {rp50:>6.2f} ms  {rp99:>7.2f}  "
              f"{rp50 - lp50:>+12.2f} ms")
    trip = np.concatenate(trips)
    print(f"for scale, a health check (a gRPC round trip with no work behind it): p50 {np.percentile(trip, 50):.2f} ms, "
          f"p99 {np.percentile(trip, 99):.2f} ms")
    print("bare gRPC: the same search by vector behind a plain grpcio server (raw bytes, no latentspace service code)")
    print()
    for size, embed_only, rate, batch, before, after in throughput:
        reference = (before + after) / 2
        what = "Embed calls (no search)" if embed_only else f"Search by image, {size} items"
        print(f"{args.clients} concurrent gRPC clients, {what}: {rate:.1f} images/s = {rate / reference:.2f} of the "
              f"model's rate on batches of {args.clients} ({reference:.1f} images/s: {before:.1f} before, "
              f"{after:.1f} after); mean forward batch {batch:.1f}")
    if costs is not None:
        cores = len(os.sched_getaffinity(0))
        reference = np.mean([(before + after) / 2 for *_, before, after in throughput])
        rate = costs.rate(cores)
        print(f"One round of {costs.queries} image queries, each stage timed alone ({sizes[0]} items): prepare "
              f"{costs.prepare_ms:.2f} ms per image on one core, forward pass {costs.forward_ms:.1f} ms, index search "
              f"{costs.search_ms:.1f} ms. Back to back on {cores} cores: {rate:.1f} images/s = {rate / reference:.2f} "
              f"of the model's rate.")
    print()
    acceptance(rows, throughput, args)
    return 0


def acceptance(rows, throughput, args) -> None:
    """The acceptance list's rows: measured, target, met."""
    table = []
    for size, embed_only, rate, _, before, after in throughput:
        if not embed_only:
            ratio = rate / ((before + after) / 2)
            table.append((f"{args.clients} image clients / model's batched rate, {size} Flat", f"{ratio:.2f}",
                          "≥ 0.75", ratio >= 0.75))
    for size, kind, _, remote in rows:
        if kind == "by image":
            p50 = float(np.percentile(remote, 50))
            if args.lone_baseline_ms:
                change = p50 / args.lone_baseline_ms - 1
                table.append((f"lone image query p50, {size} items", f"{p50:.2f} ms ({change:+.1%})",
                              f"within 5% of {args.lone_baseline_ms:g} ms", abs(change) <= 0.05))
            else:
                table.append((f"lone image query p50, {size} items", f"{p50:.2f} ms", "within 5% of the last release",
                              None))
        if kind == "service vs bare":
            added = float(np.percentile(remote, 50) - np.percentile(_, 50))
            table.append((f"search by vector, client path over bare grpcio (p50, interleaved), {size} items",
                          f"{added:+.2f} ms", "≤ +0.25 ms", added <= 0.25))
    width = max(len(r[0]) for r in table)
    print(f"{'acceptance':<{width}}  {'measured':>20}  {'target':<30}  met")
    for what, measured, target, met in table:
        print(f"{what:<{width}}  {measured:>20}  {target:<30}  {'-' if met is None else 'yes' if met else 'NO'}")


if __name__ == "__main__":
    sys.exit(main())
