"""The forward pass's precision: recorded in the manifest, one per index, refused where it cannot run fast.

bf16 on a CPU without AVX512-BF16/AMX is emulated by PyTorch; the agreement test runs it anyway
(``allow_emulated_bf16``), on a few images, to check how far the vectors move.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image

from latentspace.indexer import EmbedderInfo, IndexStore
from latentspace.indexer.embedders import EmbedderConfig, EmbedderError, WeightsChoice, load_embedder
from latentspace.indexer.manifest import IndexMismatch, Manifest
from latentspace.indexer.precision import cpu_bf16_native
from support import DEMO_CORPUS

BF16_MIN_COSINE = 0.99
"""The least cosine between an image's fp32 and bf16 vectors we accept (bf16 keeps 8 bits of mantissa)."""


def test_index_records_fp32_by_default(corpus_writer, tmp_path, index_run):
    corpus_writer(tmp_path / "corpus", per_label=1)
    result = index_run(tmp_path / "corpus", tmp_path / "idx")
    assert result.code == 0, result.text
    recorded = json.loads((tmp_path / "idx" / "manifest.json").read_text())["embedder"]
    assert recorded["precision"] == "fp32"
    assert "fp32" in result.err


def test_other_precision_is_refused_with_what_differs(tmp_path):
    embedder = load_embedder(EmbedderConfig(weights=WeightsChoice.parse("random")))
    info = EmbedderInfo.from_embedder(embedder)
    IndexStore.create(tmp_path / "idx", info).close()
    with pytest.raises(IndexMismatch) as caught:
        IndexStore.open(tmp_path / "idx", expect=dataclasses.replace(info, precision="bf16"))
    assert "precision: index was embedded in fp32, asked for bf16" in str(caught.value)
    assert "--precision fp32" in str(caught.value)
    IndexStore.open(tmp_path / "idx", expect=info).close()  # the same precision opens


def test_manifest_without_precision_reads_as_fp32(tmp_path):
    embedder = load_embedder(EmbedderConfig(weights=WeightsChoice.parse("random")))
    IndexStore.create(tmp_path / "idx", EmbedderInfo.from_embedder(embedder)).close()
    path = tmp_path / "idx" / "manifest.json"
    raw = json.loads(path.read_text())
    del raw["embedder"]["precision"]
    path.write_text(json.dumps(raw))
    assert Manifest.read(path).embedder.precision == "fp32"


def test_cli_bf16_on_an_fp32_index_is_refused(corpus_writer, tmp_path, index_run):
    corpus_writer(tmp_path / "corpus", per_label=1)
    assert index_run(tmp_path / "corpus", tmp_path / "idx").code == 0
    before = (tmp_path / "idx" / "manifest.json").read_bytes()
    result = index_run(tmp_path / "corpus", tmp_path / "idx", "--precision", "bf16")
    assert result.code == 1, result.text
    assert "Traceback" not in result.err
    if cpu_bf16_native():
        assert "precision: index was embedded in fp32, asked for bf16" in result.err, result.err
    else:  # refused before the index is opened: bf16 would be emulated here
        assert "neither AVX512-BF16 nor AMX" in result.err and "--precision fp32" in result.err, result.err
    assert (tmp_path / "idx" / "manifest.json").read_bytes() == before


def test_fp16_on_the_cpu_and_unknown_precisions_are_refused():
    with pytest.raises(EmbedderError, match="fp16 needs a CUDA GPU"):
        load_embedder(EmbedderConfig(weights=WeightsChoice.parse("random"), precision="fp16"), device="cpu")
    with pytest.raises(EmbedderError, match="unknown precision 'int8'"):
        EmbedderConfig(precision="int8")  # type: ignore[arg-type]


def _demo_photos() -> list[Image.Image]:
    paths = sorted(p for p in DEMO_CORPUS.rglob("*") if p.suffix.lower() in (".jpg", ".png"))[:6]
    if len(paths) < 4:
        pytest.skip("the demo photos are not in this checkout")
    return [Image.open(p).convert("RGB") for p in paths]


@pytest.mark.parametrize("model, weights", [("efficientnet-lite0", "imagenet"), ("alexnet", "random:0")])
def test_bf16_vectors_agree_with_fp32(model, weights):
    images = _demo_photos()
    fp32 = load_embedder(EmbedderConfig(model=model, weights=WeightsChoice.parse(weights)))
    bf16 = load_embedder(EmbedderConfig(model=model, weights=WeightsChoice.parse(weights), precision="bf16"),
                         allow_emulated_bf16=True)
    a, b = fp32.embed_images(images), bf16.embed_images(images)
    assert b.dtype == np.float32 and b.shape == a.shape
    assert not np.array_equal(a, b), "bf16 autocast must actually change the arithmetic"
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cosine.min() >= BF16_MIN_COSINE, cosine
    assert bf16.config.precision == "bf16" and EmbedderInfo.from_embedder(bf16).precision == "bf16"


def test_bf16_is_refused_on_a_cpu_without_it_unless_allowed():
    if cpu_bf16_native():
        pytest.skip("this CPU computes bf16 natively")
    with pytest.raises(EmbedderError, match="neither AVX512-BF16 nor AMX"):
        load_embedder(EmbedderConfig(weights=WeightsChoice.parse("random"), precision="bf16"), device="cpu")


def test_serving_follows_the_recorded_precision(tmp_path):
    from latentspace.server.app import load_index_embedder

    embedder = load_embedder(EmbedderConfig(weights=WeightsChoice.parse("random")))
    IndexStore.create(tmp_path / "idx", EmbedderInfo.from_embedder(embedder)).close()
    assert load_index_embedder(tmp_path / "idx", device="cpu").config.precision == "fp32"
    with pytest.raises(EmbedderError, match="fp16 needs a CUDA GPU"):
        load_index_embedder(tmp_path / "idx", device="cpu", precision="fp16")
    if not cpu_bf16_native():  # an index recorded as bf16 asks for bf16, which this CPU refuses
        path = tmp_path / "idx" / "manifest.json"
        raw = json.loads(path.read_text())
        raw["embedder"]["precision"] = "bf16"
        path.write_text(json.dumps(raw))
        with pytest.raises(EmbedderError, match="neither AVX512-BF16 nor AMX"):
            load_index_embedder(tmp_path / "idx", device="cpu")
