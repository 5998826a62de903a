"""The network as the optimiser sees it: named layers, their outputs, and its input scaling.

Layer names (``stage6``, ``conv5``, …) come from :func:`layer_node` alone, which asks
:mod:`latentspace.render.units` for the layers the embedder's spec declares.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

import torch
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from latentspace.indexer.embedders import Embedder, EmbedderError
from latentspace.render.featurevis.errors import InvalidObjective, ObjectiveNotFound
from latentspace.render.units import UnitLayer, unit_layer, unit_layers

__all__ = ["LOGITS", "MIN_SIZE", "FeatureNetwork", "is_first_layer", "layer_node", "layer_names"]

MIN_SIZE = 32
"""The smallest image side optimised at all; a network may need more (:attr:`FeatureNetwork.min_size`)."""

LOGITS = "logits"
"""The pseudo-layer of the network's final output (the classifier's logits)."""


def layer_node(embedder: Embedder, name: str) -> UnitLayer:
    """The layer called ``name`` (its FX node); ObjectiveNotFound lists the names there are."""
    try:
        return unit_layer(embedder.spec, name)
    except EmbedderError as exc:
        raise ObjectiveNotFound(str(exc)) from None


def layer_names(embedder: Embedder) -> tuple[str, ...]:
    return tuple(layer.name for layer in unit_layers(embedder.spec))


class FeatureNetwork:
    """One embedder's network, reading any set of FX nodes in one differentiable forward pass.

    Extractors are traced once per set of nodes and kept; the network's weights are never
    changed (gradients are taken with respect to the image only). Safe to share between threads.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.device = embedder.device
        self._extractors: dict[frozenset[str], nn.Module] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._min_size: int | None = None
        self._lock = threading.Lock()
        prep = embedder.preprocessing
        factor = 1.0 if prep.scale else 255.0
        self._mul = torch.tensor([factor / s for s in prep.std], device=self.device).view(1, 3, 1, 1)
        self._add = torch.tensor([-m / s for m, s in zip(prep.mean, prep.std)], device=self.device).view(1, 3, 1, 1)

    @property
    def input_size(self) -> int:
        """The side of the square crop the network was trained on (224)."""
        return int(self.embedder.preprocessing.crop[0])

    def node(self, layer: str) -> str:
        """The FX node of a layer name, or of :data:`LOGITS`."""
        return self.embedder.spec.classifier if layer == LOGITS else layer_node(self.embedder, layer).node

    def network_input(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB ``(n, 3, h, w)`` in 0..1 → the network's normalised input (its own mean, std and scale)."""
        return rgb * self._mul + self._add

    def _extractor(self, nodes: frozenset[str]) -> nn.Module:
        with self._lock:
            graph = self._extractors.get(nodes)
            if graph is None:
                graph = create_feature_extractor(self.embedder.model, return_nodes={n: n for n in sorted(nodes)}).eval()
                self._extractors[nodes] = graph
            return graph

    def __call__(self, rgb: torch.Tensor, nodes: Iterable[str]) -> Mapping[str, torch.Tensor]:
        """Outputs of ``nodes`` for RGB images in 0..1 (gradients flow back to ``rgb``)."""
        return self._extractor(frozenset(nodes))(self.network_input(rgb.to(self.device)))

    def _runs_at(self, size: int) -> bool:
        probe = torch.full((1, 3, size, size), 0.5, device=self.device)
        try:  # the plain model, not a traced extractor (which prints every exception it passes on)
            with torch.inference_mode():
                self.embedder.model(self.network_input(probe))
        except RuntimeError:  # a pooling or convolution left with no output positions
            return False
        return True

    @property
    def min_size(self) -> int:
        """The smallest square image (of at least :data:`MIN_SIZE`) the whole network runs on, found once.

        AlexNet's three pools need 63 pixels; EfficientNet-Lite0 runs on 32.
        """
        if self._min_size is None:
            low, high = MIN_SIZE, self.input_size  # the network runs at its training size
            if self._runs_at(low):
                high = low
            while low < high:
                middle = (low + high) // 2
                low, high = (low, middle) if self._runs_at(middle) else (middle + 1, high)
            self._min_size = low
        return self._min_size

    def check_size(self, size: int) -> None:
        """InvalidObjective unless the network runs on ``size``-pixel images (robust views are never smaller)."""
        if size < self.min_size:
            raise InvalidObjective(f"{self.embedder.spec.name} needs images of at least {self.min_size} pixels, "
                                   f"not {size}")

    def output_shape(self, layer: str) -> tuple[int, ...]:
        """A layer's output shape for one image at the training size, without the batch: ``(c, h, w)`` or ``(d,)``."""
        node = self.node(layer)
        if node not in self._shapes:
            probe = torch.full((1, 3, self.input_size, self.input_size), 0.5, device=self.device)
            with torch.inference_mode():
                out = self(probe, [node])[node]
            self._shapes[node] = tuple(out.shape[1:])
        return self._shapes[node]


def is_first_layer(embedder: Embedder, name: str) -> bool:
    """Whether ``name`` is the output of the first convolution, whose kernels made its maps."""
    layers = unit_layers(embedder.spec)
    return bool(layers) and layers[0].name == name
