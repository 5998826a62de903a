"""The numeric precision of the forward pass: fp32, or bf16/fp16 autocast where it pays.

Reduced precision changes the vectors slightly (bench/index_throughput.py --precision bf16
measures by how much), so the precision is part of an embedder's identity and is recorded in
the index manifest. bf16 is only fast on CPUs that compute it natively (AVX512-BF16 or AMX);
elsewhere PyTorch emulates it and it is slower than fp32, so it is refused unless asked for
anyway (``allow_emulated``), which is useful only to check the agreement of the vectors.
The embedder raises the problems found here as its own errors.
fp16 autocast is a GPU feature and is refused on the CPU.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator
from typing import Literal

import torch

__all__ = ["PRECISIONS", "Precision", "autocast", "cpu_bf16_native", "cpu_description", "precision_problem"]

Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_bf16_native() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX512-BF16 or AMX tiles), as oneDNN needs to gain from it."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def cpu_description() -> str:
    """The CPU's model name and the bf16 features that matter here, for benchmark tables."""
    name = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    features = [f for f, present in (("avx512_bf16", torch.cpu._is_avx512_bf16_supported()),
                                     ("amx", torch.cpu._is_amx_tile_supported()),
                                     ("avx512", torch.cpu._is_avx512_supported())) if present]
    return f"{name} ({torch.backends.cpu.get_cpu_capability()}; {', '.join(features) or 'no avx512/bf16/amx'})"


def precision_problem(precision: str, device: torch.device, *, allow_emulated: bool = False) -> str | None:
    """Why ``precision`` cannot run (or would run slower than fp32) on ``device``; None when it can."""
    if precision not in PRECISIONS:
        return f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}"
    if precision == "fp32" or device.type == "cuda":
        return None
    if precision == "fp16":
        return ("--precision fp16 needs a CUDA GPU; on the CPU use fp32 (or bf16 where the CPU has "
                "AVX512-BF16 or AMX)")
    if not cpu_bf16_native() and not allow_emulated:
        return (f"--precision bf16: this CPU ({cpu_description()}) has neither AVX512-BF16 nor AMX, so PyTorch "
                "would emulate bf16 and run slower than fp32; use --precision fp32 here")
    return None


@contextlib.contextmanager
def autocast(precision: Precision, device: torch.device) -> Iterator[None]:
    """Autocast to ``precision`` on ``device`` for the forward pass; nothing for fp32."""
    if precision == "fp32":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=_DTYPES[precision]):
        yield
