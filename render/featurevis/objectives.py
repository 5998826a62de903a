"""What to make the network see: a channel, one neuron, a class logit, a direction; and diversity.

Each objective is a frozen value with a ``key`` (what the cache files it under) and a
``value(outputs)``, one number per image, to be maximised. They are built only by the
functions at the bottom, which check the request against the network once, where it enters:

* :func:`channel_objective`: the mean over positions of one channel of a layer (Lucid's
  ``objectives.channel``); for a layer without positions (``fc7``, ``pool``) the unit itself;
* :func:`neuron_objective`: one channel at the centre position only (Lucid's ``neuron``:
  ``(h // 2, w // 2)``, the lower right of the middle four when even);
* :func:`class_objective`: the logit of one ImageNet class, before the softmax;
* :func:`direction_objective`: the cosine between the image's vector at a layer (the index's,
  by default the penultimate) and a given direction: a named direction or a stored item's vector.

:func:`diversity_penalty` is Lucid's ``diversity``: for images optimised for the same objective,
the summed cosine similarity of their activations' Gram matrices, subtracted (times a weight)
so that they come out different from each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from latentspace.indexer.models.categories import AmbiguousClass, ClassOutOfRange, UnknownClass
from latentspace.indexer.models.categories import find_class as categories_find_class
from latentspace.render.featurevis.errors import InvalidObjective, ObjectiveNotFound
from latentspace.render.featurevis.network import LOGITS, FeatureNetwork

__all__ = [
    "Channel",
    "ClassLogit",
    "Direction",
    "Neuron",
    "Objective",
    "channel_objective",
    "class_objective",
    "direction_objective",
    "diversity_penalty",
    "find_class",
    "neuron_objective",
]


@dataclass(frozen=True)
class Channel:
    layer: str
    node: str
    unit: int

    @property
    def key(self) -> str:
        return f"channel:{self.layer}:{self.unit}"

    @property
    def description(self) -> str:
        return f"{self.layer} channel {self.unit}"

    def value(self, outputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        out = outputs[self.node]
        return out[:, self.unit].mean(dim=(1, 2)) if out.ndim == 4 else out.flatten(1)[:, self.unit]


@dataclass(frozen=True)
class Neuron:
    layer: str
    node: str
    unit: int

    @property
    def key(self) -> str:
        return f"neuron:{self.layer}:{self.unit}"

    @property
    def description(self) -> str:
        return f"{self.layer} unit {self.unit} at the centre"

    def value(self, outputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        out = outputs[self.node]
        if out.ndim == 4:
            return out[:, self.unit, out.shape[2] // 2, out.shape[3] // 2]
        return out.flatten(1)[:, self.unit]


@dataclass(frozen=True)
class ClassLogit:
    index: int
    name: str
    node: str

    @property
    def key(self) -> str:
        return f"class:{self.index}"

    @property
    def description(self) -> str:
        return f"class {self.name!r} ({self.index})"

    def value(self, outputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return outputs[self.node].flatten(1)[:, self.index]


@dataclass(frozen=True)
class Direction:
    label: str
    layer: str
    node: str
    vector_bytes: bytes
    """float32 little-endian, unit length."""

    @property
    def key(self) -> str:
        return f"direction:{self.layer}:{hashlib.sha256(self.vector_bytes).hexdigest()[:32]}"

    @property
    def description(self) -> str:
        return f"direction {self.label} at {self.layer}"

    @property
    def vector(self) -> np.ndarray:
        return np.frombuffer(self.vector_bytes, dtype="<f4")

    def value(self, outputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        out = outputs[self.node].flatten(1)
        direction = torch.from_numpy(self.vector.copy()).to(out.device, out.dtype)
        return F.cosine_similarity(out, direction[None, :], dim=1, eps=1e-8)


Objective = Channel | Neuron | ClassLogit | Direction


def diversity_penalty(activations: torch.Tensor) -> torch.Tensor:
    """Summed pairwise cosine similarity of the images' Gram matrices (vectors for 2-d outputs)."""
    k = activations.shape[0]
    if k < 2:
        return activations.new_zeros(())
    if activations.ndim == 4:
        flat = activations.flatten(2)
        features = torch.bmm(flat, flat.transpose(1, 2)).flatten(1)
    else:
        features = activations.flatten(1)
    features = F.normalize(features, dim=1)
    similarity = features @ features.T
    return (similarity.sum() - similarity.diagonal().sum()) / 2


def _unit_in_range(network: FeatureNetwork, layer: str, unit: int) -> str:
    node = network.node(layer)
    units = network.output_shape(layer)[0]
    if not 0 <= unit < units:
        raise InvalidObjective(f"{network.embedder.spec.name} layer {layer} has units 0..{units - 1}, not {unit}")
    return node


def channel_objective(network: FeatureNetwork, layer: str, unit: int) -> Channel:
    return Channel(layer, _unit_in_range(network, layer, unit), int(unit))


def neuron_objective(network: FeatureNetwork, layer: str, unit: int) -> Neuron:
    return Neuron(layer, _unit_in_range(network, layer, unit), int(unit))


def find_class(categories: Sequence[str], text: str) -> int:
    """An ImageNet class by name (exactly, else ignoring case) or by index; NOT_FOUND names close ones."""
    try:
        return categories_find_class(categories, text)
    except AmbiguousClass as exc:
        raise InvalidObjective(f"class {exc}") from None
    except ClassOutOfRange as exc:
        raise InvalidObjective(str(exc)) from None
    except UnknownClass as exc:
        raise ObjectiveNotFound(str(exc)) from None


def class_objective(network: FeatureNetwork, name: str | int) -> ClassLogit:
    categories = network.embedder.spec.categories
    index = find_class(categories, str(name))
    return ClassLogit(index, categories[index], network.node(LOGITS))


def direction_objective(network: FeatureNetwork, vector: np.ndarray, label: str, layer: str | None = None) -> Direction:
    """A direction in the space of ``layer`` (default: the embedder's layer, the penultimate one)."""
    layer = layer or network.embedder.layer.name
    node = network.node(layer)
    expected = int(np.prod(network.output_shape(layer)))
    vector = np.asarray(vector, dtype=np.float64).reshape(-1)
    if vector.shape[0] != expected:
        raise InvalidObjective(f"direction {label}: {vector.shape[0]} numbers, but {layer} has {expected}")
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(vector).all() or norm == 0.0:
        raise InvalidObjective(f"direction {label}: the vector must be finite and not all zero")
    return Direction(label, layer, node, (vector / norm).astype("<f4").tobytes())
