"""Which CPU forward-pass settings are faster here? Measured A/B, interleaved, in one run.

Each setting is one way of running the same network (same weights) on the same batch:
eager (today's path, inference mode), channels-last memory format, a frozen TorchScript graph
(oneDNN fusion of conv+bias+ReLU, folded constants), both together, and ``torch.compile``.
The settings take turns batch by batch, so a change in the machine's load falls on all of them
alike; the table gives the median over the repeats and the largest difference of the vectors
from eager fp32. Usage:

    python bench/forward_settings.py [--model alexnet] [--batch-size 16] [--repeats 7] [--compile]
"""

from __future__ import annotations

import argparse
import statistics
import time

from latentspace.cli.openmp import prefer_sleeping_openmp_threads

prefer_sleeping_openmp_threads()

import torch

from latentspace.indexer import EmbedderConfig, WeightsChoice, load_embedder
from latentspace.indexer.precision import cpu_description


class Flat(torch.nn.Module):
    """The embedder's feature extractor with the flattened embedding as its only output."""

    def __init__(self, extractor: torch.nn.Module) -> None:
        super().__init__()
        self.extractor = extractor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.extractor(x)["embedding"], 1)


def settings(extractor: torch.nn.Module, example: torch.Tensor, with_compile: bool) -> dict:
    flat = Flat(extractor).eval()
    out = {"eager": (flat, False)}
    out["channels-last"] = (Flat(extractor).to(memory_format=torch.channels_last).eval(), True)
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.trace(flat, example, strict=False))
        out["jit freeze"] = (frozen, False)
        cl = Flat(extractor).to(memory_format=torch.channels_last).eval()
        out["jit freeze + channels-last"] = (
            torch.jit.freeze(torch.jit.trace(cl, example.to(memory_format=torch.channels_last), strict=False)), True)
    if with_compile:
        out["torch.compile"] = (torch.compile(flat), False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="alexnet")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--compile", action="store_true", help="also torch.compile (compiling takes minutes)")
    args = parser.parse_args()

    embedder = load_embedder(EmbedderConfig(model=args.model, weights=WeightsChoice.parse("random")), device="cpu")
    example = torch.randn(args.batch_size, 3, 224, 224)
    runs = settings(embedder._extractor, example, args.compile)
    times: dict[str, list[float]] = {name: [] for name in runs}
    diffs: dict[str, float] = {}
    with torch.inference_mode():
        reference = runs["eager"][0](example)
        for name, (module, channels_last) in runs.items():  # warm-up: tracing, compiling, oneDNN caches
            x = example.to(memory_format=torch.channels_last) if channels_last else example
            started = time.perf_counter()
            module(x)
            module(x)
            diffs[name] = float((module(x) - reference).abs().max() / reference.abs().max())
            print(f"warm-up {name}: {time.perf_counter() - started:.1f} s", flush=True)
        for _ in range(args.repeats):
            for name, (module, channels_last) in runs.items():
                x = example.to(memory_format=torch.channels_last) if channels_last else example
                started = time.perf_counter()
                module(x)
                times[name].append(args.batch_size / (time.perf_counter() - started))
    base = statistics.median(times["eager"])
    print(f"{args.model}, batch {args.batch_size}, {args.repeats} interleaved repeats, torch threads "
          f"{torch.get_num_threads()}, CPU: {cpu_description()}")
    print(f"{'setting':<28} {'median img/s':>12} {'min':>7} {'max':>7} {'vs eager':>8} {'max |Δ|/max':>12}")
    for name, rates in times.items():
        median = statistics.median(rates)
        print(f"{name:<28} {median:12.1f} {min(rates):7.1f} {max(rates):7.1f} {median / base:8.2f} {diffs[name]:12.2e}")


if __name__ == "__main__":
    main()
