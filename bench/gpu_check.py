"""Check the GPU path against the CPU: the same images embedded on CUDA and on the CPU.

Prints per-image cosine between the two (expect ≥ 0.9999) and images/s on each device, the same
for CUDA fp16 and bf16 autocast against the CPU's fp32 vectors, and,
when faiss has GPU support, trains an IVF index on the GPU. Run it on a machine with a GPU:

    python bench/gpu_check.py CORPUS [--limit 300] [--model alexnet] [--weights random]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from latentspace.indexer import EmbedderConfig, WeightsChoice, decode_image, discover, load_embedder


def embed_all(embedder, tensors: list[torch.Tensor], batch_size: int) -> tuple[np.ndarray, float]:
    embedder.embed_batch(torch.stack(tensors[:batch_size]))  # warm-up (CUDA context, cuDNN plans)
    if embedder.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    parts = [embedder.embed_batch(torch.stack(tensors[i : i + batch_size])) for i in range(0, len(tensors), batch_size)]
    return np.concatenate(parts), len(tensors) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--model", default="alexnet")
    parser.add_argument("--weights", default="random")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU visible to PyTorch")

    config = EmbedderConfig(model=args.model, weights=WeightsChoice.parse(args.weights))
    cpu, gpu = load_embedder(config, device="cpu"), load_embedder(config, device="cuda")
    entries = discover(args.corpus)[: args.limit]
    tensors = [cpu.preprocess(decode_image(e.path.read_bytes()).image) for e in entries]
    cpu_vectors, cpu_rate = embed_all(cpu, tensors, args.batch_size)
    gpu_vectors, gpu_rate = embed_all(gpu, tensors, args.batch_size)
    cosines = (cpu_vectors * gpu_vectors).sum(1) / (
        np.linalg.norm(cpu_vectors, axis=1) * np.linalg.norm(gpu_vectors, axis=1) + 1e-12
    )
    print(f"{len(tensors)} images, {args.model} {cpu.layer.name}, batch {args.batch_size}, {torch.cuda.get_device_name()}")
    print(f"cosine(cpu, cuda) per image: min {cosines.min():.6f}  mean {cosines.mean():.6f}  (expect ≥ 0.9999)")
    print(f"images/s: cpu {cpu_rate:.1f}  cuda {gpu_rate:.1f}")
    for precision in ("fp16", "bf16"):
        reduced = load_embedder(EmbedderConfig(model=args.model, weights=WeightsChoice.parse(args.weights),
                                               precision=precision), device="cuda")
        vectors, rate = embed_all(reduced, tensors, args.batch_size)
        agree = (cpu_vectors * vectors).sum(1) / (
            np.linalg.norm(cpu_vectors, axis=1) * np.linalg.norm(vectors, axis=1) + 1e-12
        )
        print(f"cuda {precision}: {rate:.1f} images/s ({rate / gpu_rate:.2f}x cuda fp32); cosine to cpu fp32 "
              f"min {agree.min():.6f} mean {agree.mean():.6f}")
    try:
        from latentspace.indexer.faiss_index import FaissIndex, gpu_available
    except ImportError:
        print("faiss is not installed: the GPU FAISS path was not checked")
        return
    if not gpu_available():
        print("faiss has no GPU support here: the GPU FAISS path was not checked")
        return
    index = FaissIndex.create(gpu.dim, "IVF16,Flat", "cosine")
    started = time.perf_counter()
    index.train(gpu_vectors, use_gpu=True)
    index.add(np.arange(len(gpu_vectors)), gpu_vectors)
    _, ids = index.search(gpu_vectors[:10], 1)
    print(f"IVF16 trained on the GPU in {time.perf_counter() - started:.2f} s; self-hits {int((ids[:, 0] == np.arange(10)).sum())}/10")


if __name__ == "__main__":
    main()
