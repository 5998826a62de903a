"""Batched optimisation of images for objectives: the loop of Lucid's ``render_vis``.

Every objective gets ``params.count`` images; all of them are one batch, so one forward and
backward pass per step serves every objective (and every diversity group). Each step draws one
random robust view of the batch (:mod:`.transforms`), reads the nodes the objectives need,
and takes an Adam step (lr 0.05, Lucid's and lucent's default) on the Fourier spectra
(:mod:`.parametrisation`) towards ``Σ value − diversity · Σ penalty``.

Repeatable: the spectra and the transforms come from generators seeded by ``params.seed``
(two of them, so the spectra do not depend on the number of steps), so on the CPU the same
request gives the same pixels. ``progress`` is called after each step with the objectives'
values; an exception it raises stops the optimisation and propagates (cancellation, deadlines).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from latentspace.render.featurevis.errors import InvalidObjective
from latentspace.render.featurevis.network import MIN_SIZE, FeatureNetwork, layer_names
from latentspace.render.featurevis.objectives import Objective, diversity_penalty
from latentspace.render.featurevis.parametrisation import FourierImage
from latentspace.render.featurevis.transforms import STANDARD, robust_view

__all__ = ["OptimisationParams", "Optimised", "Progress", "ProgressCallback", "optimise"]

MAX_STEPS = 4096
MAX_SIZE = 1024
MAX_COUNT = 16


@dataclass(frozen=True)
class OptimisationParams:
    """How to optimise; every field is part of a cached picture's key."""

    steps: int = 256
    size: int = 224
    """Side of the square image in pixels; the network sees it at this size (it pools globally)."""
    seed: int = 0
    learning_rate: float = 0.05
    count: int = 1
    """Images per objective; with ``diversity`` > 0 they are pushed apart."""
    diversity: float = 0.0
    diversity_layer: str | None = None
    """Where diversity is measured; default the objective's own layer (for a class, ``head``-like: see :func:`optimise`)."""
    decorrelate: bool = True
    decay_power: float = 1.0
    robust: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= MAX_STEPS:
            raise InvalidObjective(f"steps must be 1..{MAX_STEPS}, not {self.steps}")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise InvalidObjective(f"size must be {MIN_SIZE}..{MAX_SIZE} pixels, not {self.size}")
        if not 1 <= self.count <= MAX_COUNT:
            raise InvalidObjective(f"count must be 1..{MAX_COUNT} images per objective, not {self.count}")
        if not (0 < self.learning_rate <= 1 and np.isfinite(self.learning_rate)):
            raise InvalidObjective(f"learning rate must be in (0, 1], not {self.learning_rate}")
        if not (0 <= self.diversity < 1e6 and np.isfinite(self.diversity)):
            raise InvalidObjective(f"diversity must be a weight of at least 0, not {self.diversity}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Progress:
    step: int
    """Steps done, 1..steps."""
    steps: int
    values: tuple[float, ...]
    """Each objective's value at this step, averaged over its ``count`` images."""


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class Optimised:
    images: np.ndarray
    """uint8 ``(len(objectives) * count, size, size, 3)``: objective i's images are rows i*count .. i*count+count-1."""
    history: np.ndarray
    """float32 ``(steps, len(objectives) * count)``: each image's objective value at each step (of that step's view)."""


def _diversity_node(network: FeatureNetwork, objective: Objective, params: OptimisationParams) -> str:
    if params.diversity_layer is not None:
        return network.node(params.diversity_layer)
    layer = getattr(objective, "layer", None)
    if layer is not None and len(network.output_shape(layer)) == 3:
        return objective.node
    spatial = [name for name in layer_names(network.embedder) if len(network.output_shape(name)) == 3]
    return network.node(spatial[-1])  # the last layer with positions: what the class or direction reads


def optimise(network: FeatureNetwork, objectives: Sequence[Objective], params: OptimisationParams,
             progress: ProgressCallback | None = None) -> Optimised:
    """Optimise ``params.count`` images for each objective, all in one batch."""
    if not objectives:
        raise InvalidObjective("no objectives given")
    network.check_size(params.size)
    count, n = params.count, len(objectives) * params.count
    views = torch.Generator().manual_seed(params.seed + 0x5EED)
    # Every objective starts from the same seeded spectra, whatever else is in the batch.
    image = FourierImage(count, params.size, generator=torch.Generator().manual_seed(params.seed),
                         decay_power=params.decay_power, decorrelate=params.decorrelate)
    if len(objectives) > 1:  # one parameter for the whole batch: one Adam, one inverse FFT
        image.spectrum = torch.nn.Parameter(image.spectrum.detach().repeat(len(objectives), 1, 1, 1, 1))
    image = image.to(network.device)
    optimiser = torch.optim.Adam([image.spectrum], lr=params.learning_rate)

    diverse = params.diversity > 0 and count > 1
    div_nodes = [_diversity_node(network, o, params) for o in objectives] if diverse else []
    nodes = {o.node for o in objectives} | set(div_nodes)
    history = np.zeros((params.steps, n), dtype=np.float32)
    for step in range(params.steps):
        rgb = image()
        view = robust_view(rgb, views, STANDARD) if params.robust else rgb
        outputs = network(view, nodes)
        values = torch.cat([o.value({k: v[i * count : (i + 1) * count] for k, v in outputs.items()})
                            for i, o in enumerate(objectives)])
        loss = -values.sum()
        if diverse:
            for i, node in enumerate(div_nodes):
                loss = loss + params.diversity * diversity_penalty(outputs[node][i * count : (i + 1) * count])
        (grad,) = torch.autograd.grad(loss, [image.spectrum])
        image.spectrum.grad = grad
        optimiser.step()
        history[step] = values.detach().float().cpu().numpy()
        if progress is not None:
            means = history[step].reshape(len(objectives), count).mean(axis=1)
            progress(Progress(step + 1, params.steps, tuple(float(v) for v in means)))
    with torch.no_grad():
        final = image().permute(0, 2, 3, 1).mul(255).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
    return Optimised(final, history)
