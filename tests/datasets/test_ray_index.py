"""`latentspace index --ray` on a real two-node Ray cluster on this machine (loopback only).

Every test indexes through the CLI, as a user would, and compares the index with the local
indexer's on the same source: same items, labels, hashes and vectors (≤ 1e-5). One cluster
serves the module; the node-failure test runs last and brings its node back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.datasets import assert_same_index, index_contents, write_corpus, write_parquet, write_webdataset

pytest.importorskip("ray", reason="the Ray tests need the ray extra: pip install '.[ray]'")

from support.ray_cluster import RayCluster  # noqa: E402

from latentspace.indexer import EmbedderInfo, IndexOptions, IndexStore, index_corpus  # noqa: E402
from latentspace.indexer.sources import SourceOptions, open_source  # noqa: E402

pytestmark = pytest.mark.slow
# Two 1-CPU nodes: fractional reservations let the actors and the decoding tasks share them, also
# after one node is lost. One actor keeps the runs short; the node-failure test runs two.
RAY_FLAGS = ["--cpus-per-worker", "0.25", "--decode-cpus", "0.5", "--batch-size", "4", "--shard-size", "4"]


@pytest.fixture(scope="module")
def cluster():
    ray_cluster = RayCluster(cpus_per_node=1)
    try:
        yield ray_cluster.start(nodes=2)
    finally:
        ray_cluster.stop()


def driver(cluster: RayCluster, source: str, index: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "latentspace.cli.main", "index", source, "--index", str(index), "--weights", "random:0",
            "--ray", cluster.address, "--no-progress", *RAY_FLAGS, *(extra or ("--workers", "1"))]


def run_driver(cluster: RayCluster, source: str, index: Path, *extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run(driver(cluster, source, index, *extra), env=cluster.env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:] + cluster.logs()
    return done


def local_index(directory: Path, source: str, embedder, options: SourceOptions = SourceOptions()) -> dict:
    with IndexStore.create(directory, EmbedderInfo.from_embedder(embedder)) as store:
        index_corpus(open_source(source, options), store, embedder, IndexOptions(workers=0, progress=False))
    return index_contents(directory)


def committed_lines(index: Path) -> int:
    try:
        return len((index / "staging" / "committed.txt").read_text().split())
    except FileNotFoundError:
        return 0


def start_and_wait_for_a_commit(cluster: RayCluster, source: str, index: Path, *extra: str) -> subprocess.Popen:
    process = subprocess.Popen(driver(cluster, source, index, *extra), env=cluster.env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while committed_lines(index) == 0:
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no shard committed in time"
        time.sleep(0.02)
    return process


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, tuple[str, list[str]]]:
    """The same 12 photos as a folder, 3 WebDataset shards and a Parquet file; the last two with one broken image."""
    root = tmp_path_factory.mktemp("ray-sources")
    files = write_corpus(root / "folder", per_label=4)
    write_webdataset(files, root / "wds", shards=3, corrupt_in=2)
    write_parquet(files, root / "photos.parquet", corrupt_at=5)
    return {
        "folder": (str(root / "folder"), []),
        "webdataset": (f"{root}/wds/{{00000..00002}}.tar", []),
        "parquet": (str(root / "photos.parquet"), ["--parquet-label-column", "label"]),
    }


@pytest.mark.parametrize("kind", ["folder", "webdataset", "parquet"])
def test_the_cluster_indexes_a_source_exactly_as_the_local_indexer(cluster, sources, kind, tmp_path, random_embedder):
    source, flags = sources[kind]
    options = SourceOptions(parquet_label_column="label" if flags else None)
    expected = local_index(tmp_path / "local", source, random_embedder, options)
    done = run_driver(cluster, source, tmp_path / "ray", *flags)
    assert_same_index(index_contents(tmp_path / "ray"), expected)
    assert len(expected) == 12
    if kind == "folder":
        assert "indexed 12 new" in done.stdout and "skipped 0" in done.stdout
    else:  # the broken image is reported, with its key, and skipped
        assert "indexed 12 new" in done.stdout and "skipped 1 (truncated: 1)" in done.stdout
        assert "broken.jpg: truncated" in done.stderr or "#5.jpg: truncated" in done.stderr
    assert not (tmp_path / "ray" / "staging").exists()


@pytest.fixture(scope="module")
def larger_corpus(tmp_path_factory, random_embedder) -> tuple[str, dict]:
    """24 photos (6 shards of 4), and the local indexer's index of them."""
    root = tmp_path_factory.mktemp("ray-larger")
    write_corpus(root / "photos", per_label=8)
    return str(root / "photos"), local_index(root / "local", str(root / "photos"), random_embedder)


def test_a_driver_killed_mid_run_is_finished_by_a_rerun_that_embeds_only_the_rest(cluster, larger_corpus, tmp_path):
    source, expected = larger_corpus
    index = tmp_path / "ray"
    process = start_and_wait_for_a_commit(cluster, source, index)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    with IndexStore.open(index, readonly=True) as store:
        kept = len(store)
    assert 4 <= kept < 24, "the driver was to be killed mid-run"
    done = run_driver(cluster, source, index)
    assert f"indexed {24 - kept} new, 0 changed, {kept} unchanged" in done.stdout
    assert_same_index(index_contents(index), expected)


def test_a_node_killed_mid_run_is_retried_and_the_index_has_no_gaps_or_duplicates(cluster, larger_corpus, tmp_path):
    source, expected = larger_corpus
    index = tmp_path / "ray"
    process = start_and_wait_for_a_commit(cluster, source, index, "--workers", "2")
    try:
        cluster.kill_node(1)
        assert process.poll() is None, "the run was to be still going when the node died"
        out, err = process.communicate(timeout=400)
        assert process.returncode == 0, err[-3000:] + cluster.logs()
        assert "indexed 24 new" in out
        contents = index_contents(index)
        assert_same_index(contents, expected)
        with IndexStore.open(index, readonly=True) as store:
            assert len(store) == 24  # no duplicates either
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        cluster.nodes.pop(1)
