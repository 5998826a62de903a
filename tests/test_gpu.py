"""GPU paths: the model on CUDA and FAISS trained on the GPU. Skipped where there is no GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from latentspace.indexer import EmbedderConfig, EmbedderInfo, IndexSettings, IndexStore, NewItem, WeightsChoice, load_embedder
from latentspace.indexer.faiss_index import gpu_available

pytestmark = pytest.mark.gpu

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU visible to PyTorch")
needs_faiss_gpu = pytest.mark.skipif(not gpu_available(), reason="faiss has no GPU support here (faiss-cpu or no GPU)")


@needs_cuda
def test_cuda_vectors_match_cpu_vectors(photo_corpus):
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in sorted(photo_corpus.rglob("*.*"))]
    config = EmbedderConfig(model="alexnet", weights=WeightsChoice.parse("random:0"))
    cpu = load_embedder(config, device="cpu").embed_images(images)
    gpu = load_embedder(config, device="cuda").embed_images(images)
    cosines = (cpu * gpu).sum(1) / (np.linalg.norm(cpu, axis=1) * np.linalg.norm(gpu, axis=1))
    assert cosines.min() >= 0.9999


@needs_cuda
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_cuda_reduced_precision_agrees_with_cpu_fp32(precision, photo_corpus):
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in sorted(photo_corpus.rglob("*.*"))]
    weights = WeightsChoice.parse("random:0")
    cpu = load_embedder(EmbedderConfig(model="alexnet", weights=weights), device="cpu").embed_images(images)
    gpu = load_embedder(EmbedderConfig(model="alexnet", weights=weights, precision=precision),
                        device="cuda").embed_images(images)
    assert gpu.dtype == np.float32
    cosines = (cpu * gpu).sum(1) / (np.linalg.norm(cpu, axis=1) * np.linalg.norm(gpu, axis=1))
    assert cosines.min() >= 0.99


@needs_faiss_gpu
def test_ivf_index_trains_on_the_gpu(tmp_path, random_embedder):
    rng = np.random.default_rng(0)
    vectors = rng.random((512, random_embedder.dim), dtype=np.float32)
    info = EmbedderInfo.from_embedder(random_embedder)
    with IndexStore.create(tmp_path / "idx", info, IndexSettings(faiss_factory="IVF8,Flat")) as store:
        store.add([NewItem(f"p{i}", "", "h", 1, 1, v) for i, v in enumerate(vectors)])
        assert store.train(use_gpu=True)
        scores, ids = store.search(vectors[:4], 1)
    assert ids[:, 0].tolist() == [1, 2, 3, 4]
