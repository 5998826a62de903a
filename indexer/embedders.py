"""Embedders: a network, its weights, the layer we read and its preprocessing, named together.

Nothing else in latentspace knows a mean, a std or a layer name: the indexer and the
server both ask an :class:`Embedder` to prepare and embed images, so they cannot drift apart.
A new network is one new :class:`EmbedderSpec` in ``latentspace.indexer.models``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as F

from latentspace.indexer.precision import PRECISIONS, Precision, autocast, precision_problem

__all__ = [
    "EmbedderConfig",
    "EmbedderSpec",
    "Embedder",
    "LayerSpec",
    "Preprocessing",
    "UnitLayer",
    "WeightsChoice",
    "WeightsIdentity",
    "WeightsUnavailable",
    "EmbedderError",
    "load_embedder",
    "resolve_device",
]

StateDict = Mapping[str, torch.Tensor]
Preprocess = Callable[[Image.Image], torch.Tensor]
"""Any image-to-input-tensor function; an embedder's own is a :class:`Preprocessing`."""


class EmbedderError(Exception):
    """An embedder could not be built as asked (unknown model or layer, bad weights file)."""


class WeightsUnavailable(EmbedderError):
    """Pretrained weights are neither cached nor downloadable; the message says where to put them."""


@dataclass(frozen=True)
class WeightsChoice:
    """Which weights to load: ``imagenet`` (pretrained), ``random`` (seeded, untrained) or a file."""

    kind: Literal["imagenet", "random", "file"]
    path: Path | None = None
    seed: int = 0

    @classmethod
    def parse(cls, text: str) -> WeightsChoice:
        """Parse a ``--weights`` value: ``imagenet``, ``random``, ``random:SEED`` or a file path."""
        if text == "imagenet":
            return cls("imagenet")
        if text == "random":
            return cls("random", seed=0)
        if text.startswith("random:"):
            try:
                return cls("random", seed=int(text.split(":", 1)[1]))
            except ValueError:
                raise EmbedderError(f"--weights {text!r}: the seed after 'random:' must be an integer") from None
        return cls("file", path=Path(text).expanduser().resolve())

    def __str__(self) -> str:
        if self.kind == "random":
            return f"random:{self.seed}"
        if self.kind == "file":
            return str(self.path)
        return "imagenet"


@dataclass(frozen=True)
class WeightsIdentity:
    """What was actually loaded: a human description plus a hash of every parameter tensor."""

    choice: str
    description: str
    sha256: str
    pretrained: bool


@dataclass(frozen=True)
class Preprocessing:
    """An image's way to the network's input, cut in two where the pixels are still bytes.

    :meth:`prepare` (resize, centre crop, to a uint8 tensor) runs where images are decoded: in
    the indexer's worker processes and the server's request threads. :meth:`finish` (to float,
    normalise) runs on a whole batch just before the forward pass. Its steps are elementwise,
    so a batch gets exactly the per-image result, while a uint8 image is a quarter of the bytes
    to hand between processes and the batched arithmetic is cheaper than one image at a time.
    The steps and their order are those of torchvision's ``ImageClassification`` preset.
    """

    resize: tuple[int, ...]
    """The shorter side's length (one value), as torchvision's ``Resize``."""
    crop: tuple[int, ...]
    interpolation: InterpolationMode
    antialias: bool
    mean: tuple[float, ...]
    std: tuple[float, ...]
    scale: bool = True
    """Divide by 255 before normalising (torchvision's presets); False keeps 0..255 values."""

    @classmethod
    def from_preset(cls, preset: object) -> Preprocessing:
        """The parameters of a torchvision weights' ``transforms()`` (an ``ImageClassification``)."""
        return cls(
            resize=tuple(preset.resize_size), crop=tuple(preset.crop_size), interpolation=preset.interpolation,
            antialias=bool(preset.antialias), mean=tuple(preset.mean), std=tuple(preset.std),
        )

    @property
    def min_side(self) -> int:
        """The shortest image side the resize needs (it must shrink, never enlarge); decoding may reduce a
        JPEG down to it, not below."""
        return max(self.resize)

    def prepare(self, image: Image.Image) -> torch.Tensor:
        """An RGB PIL image to uint8 ``(3, H, W)``: resized and cropped by PIL, as the preset does."""
        image = F.resize(image, list(self.resize), interpolation=self.interpolation, antialias=self.antialias)
        image = F.center_crop(image, list(self.crop))
        return F.pil_to_tensor(image)

    def finish(self, batch: torch.Tensor) -> torch.Tensor:
        """Prepared uint8 images ``(..., 3, H, W)`` to normalised float32 network input."""
        if batch.dtype != torch.uint8:
            raise ValueError(f"finish() takes the uint8 tensors prepare() makes, got {batch.dtype}")
        batch = F.convert_image_dtype(batch, torch.float) if self.scale else batch.to(torch.float)
        return F.normalize(batch, mean=list(self.mean), std=list(self.std))

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """Both steps for one image: float32 ``(3, H, W)``."""
        return self.finish(self.prepare(image))


@dataclass(frozen=True)
class LayerSpec:
    """A layer we can read vectors from: its torchvision FX node and output dimension."""

    name: str
    node: str
    dim: int
    penultimate: bool = False


@dataclass(frozen=True)
class UnitLayer:
    """A layer whose units can be looked at (``latentspace units``): a name for people, the
    torchvision FX node (checked with ``get_graph_node_names``) and what it is."""

    name: str
    node: str
    description: str


@dataclass(frozen=True)
class EmbedderSpec:
    """Everything that defines one network as an embedder (see torchvision's ``Weights`` enums)."""

    name: str
    description: str
    layers: tuple[LayerSpec, ...]
    default_layer: str
    classifier: str
    """Dotted path of the final ``nn.Linear``: its rows act on the penultimate vector."""
    first_conv: str
    """Dotted path of the first convolution, whose kernels can be drawn."""
    categories: tuple[str, ...]
    build: Callable[[], nn.Module]
    """Builds the architecture with freshly initialised (untrained) parameters."""
    preprocessing: Preprocessing
    load_pretrained: Callable[[], StateDict]
    """Returns the pretrained state dict without a network, or raises WeightsUnavailable."""
    pretrained_description: str
    max_batch: int = field(default=64)
    unit_layers: tuple[UnitLayer, ...] = ()
    """The layers whose units can be drawn, from the input up; the embedding layers are added to them."""

    def layer(self, name: str | None) -> LayerSpec:
        wanted = name or self.default_layer
        for layer in self.layers:
            if layer.name == wanted:
                return layer
        known = ", ".join(layer.name for layer in self.layers)
        raise EmbedderError(f"model {self.name!r} has no layer {wanted!r}; choose one of: {known}")


@dataclass(frozen=True)
class EmbedderConfig:
    """The user's choice of embedder, as parsed once from flags or read from a manifest."""

    model: str = "alexnet"
    layer: str | None = None
    weights: WeightsChoice = WeightsChoice("imagenet")
    precision: Precision = "fp32"
    """The forward pass's precision (see :mod:`latentspace.indexer.precision`); part of the index's identity."""

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise EmbedderError(f"unknown precision {self.precision!r}; choose one of: {', '.join(PRECISIONS)}")


def resolve_device(device: str) -> torch.device:
    """``auto`` means CUDA when PyTorch sees a GPU, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise EmbedderError("--device cuda was asked for, but PyTorch sees no CUDA GPU; use --device cpu or auto")
    if device not in ("cpu", "cuda"):
        raise EmbedderError(f"unknown device {device!r}; choose auto, cpu or cuda")
    return torch.device(device)


def state_dict_sha256(state: StateDict) -> str:
    """A hash of the parameters themselves, so the same weights match whatever file they came from."""
    digest = hashlib.sha256()
    for key in sorted(state):
        tensor = state[key].detach().cpu().contiguous()
        digest.update(key.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def _get_submodule(model: nn.Module, dotted: str) -> nn.Module:
    return model.get_submodule(dotted)


class Embedder:
    """A loaded network that turns images into vectors of one layer.

    ``embed_batch`` takes a batch ``(n, 3, H, W)`` of :meth:`prepare`'s uint8 images (or of
    :meth:`preprocess`'s float inputs) and returns a float32 array ``(n, dim)``: the layer's
    activations exactly as the network computes them.
    """

    def __init__(
        self,
        spec: EmbedderSpec,
        layer: LayerSpec,
        model: nn.Module,
        identity: WeightsIdentity,
        config: EmbedderConfig,
        device: torch.device,
    ) -> None:
        self.spec = spec
        self.layer = layer
        self.identity = identity
        self.config = config
        self.device = device
        # Channels-last lets oneDNN (and cuDNN) run the convolutions without reordering each
        # layer's input; measured faster for both networks here (bench/forward_settings.py).
        self.model = model.eval().to(device).to(memory_format=torch.channels_last)
        self._extractor = create_feature_extractor(self.model, return_nodes={layer.node: "embedding"}).eval()
        self.preprocessing = spec.preprocessing
        self.forward_calls = 0
        """Number of forward passes run; the server's batching is measured with it."""

    @property
    def dim(self) -> int:
        return self.layer.dim

    @property
    def name(self) -> str:
        return self.spec.name

    def prepare(self, image: Image.Image) -> torch.Tensor:
        """An RGB PIL image to a uint8 ``(3, H, W)`` tensor for :meth:`embed_batch` (see :class:`Preprocessing`)."""
        return self.preprocessing.prepare(image)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """An RGB PIL image to the network's float input ``(3, H, W)``."""
        return self.preprocessing(image)

    @torch.inference_mode()
    def embed_batch(self, batch: torch.Tensor) -> np.ndarray:
        """Vectors ``(n, dim)`` float32 for a batch ``(n, 3, H, W)``: prepared uint8 or preprocessed float."""
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"expected a batch of shape (n, 3, H, W), got {tuple(batch.shape)}")
        self.forward_calls += 1
        batch = batch.to(self.device, non_blocking=True)  # uint8 crosses to a GPU in a quarter of the bytes
        if batch.dtype == torch.uint8:
            batch = self.preprocessing.finish(batch)
        batch = batch.contiguous(memory_format=torch.channels_last)
        with autocast(self.config.precision, self.device):
            out = self._extractor(batch)["embedding"]
        out = torch.flatten(out, 1)
        return out.float().cpu().numpy()

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Vectors for RGB PIL images, in batches of at most ``spec.max_batch``."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(images), self.spec.max_batch):
            chunk = images[start : start + self.spec.max_batch]
            parts.append(self.embed_batch(torch.stack([self.prepare(im) for im in chunk])))
        return np.concatenate(parts)

    def classifier_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """The final layer's ``(weight (C, dim), bias (C,))``; its rows act on the penultimate vector."""
        if not self.layer.penultimate:
            raise EmbedderError(
                f"the classifier of {self.spec.name} acts on its penultimate layer, not on {self.layer.name!r}"
            )
        linear = _get_submodule(self.model, self.spec.classifier)
        return (
            linear.weight.detach().float().cpu().numpy().copy(),
            linear.bias.detach().float().cpu().numpy().copy(),
        )

    def classify(self, vectors: np.ndarray, *, top: int = 5) -> list[list[tuple[str, float]]]:
        """Top classes (name, probability) for penultimate vectors ``(n, dim)``."""
        weight, bias = self.classifier_weights()
        logits = vectors.astype(np.float64) @ weight.T.astype(np.float64) + bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        order = np.argsort(-probs, axis=1)[:, :top]
        return [[(self.spec.categories[c], float(p[c])) for c in row] for p, row in zip(probs, order)]


def _load_state(spec: EmbedderSpec, choice: WeightsChoice) -> tuple[nn.Module, WeightsIdentity]:
    if choice.kind == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(choice.seed)
            model = spec.build()
        state = model.state_dict()
        description = f"untrained: random initialisation with seed {choice.seed}"
        return model, WeightsIdentity(str(choice), description, state_dict_sha256(state), pretrained=False)

    if choice.kind == "imagenet":
        state = spec.load_pretrained()
        description = spec.pretrained_description
    else:
        assert choice.path is not None
        if not choice.path.is_file():
            raise EmbedderError(f"--weights {choice.path}: no such file")
        try:
            state = torch.load(choice.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a bad file
            raise EmbedderError(f"--weights {choice.path}: not a loadable state-dict file ({exc})") from exc
        if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
            state = state["state_dict"]
        if not isinstance(state, Mapping):
            raise EmbedderError(f"--weights {choice.path}: expected a state dict, found {type(state).__name__}")
        description = f"state dict from {choice.path.name}"

    with torch.random.fork_rng(devices=[]):
        model = spec.build()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        source = f"--weights {choice.path}" if choice.kind == "file" else spec.pretrained_description
        raise EmbedderError(f"{source}: these weights do not fit {spec.name}'s architecture: {exc}") from exc
    identity = WeightsIdentity(str(choice), description, state_dict_sha256(model.state_dict()), pretrained=True)
    return model, identity


def load_embedder(config: EmbedderConfig, *, device: str = "cpu", allow_emulated_bf16: bool = False) -> Embedder:
    """Build the embedder that ``config`` names, on ``device`` (``auto``, ``cpu`` or ``cuda``).

    A precision the device cannot run fast is refused before any weights load (see
    :func:`~latentspace.indexer.precision.check_precision`); ``allow_emulated_bf16`` runs bf16
    on a CPU without it anyway, slowly, to measure how the vectors change.
    """
    from latentspace.indexer.models import get_spec

    spec = get_spec(config.model)
    layer = spec.layer(config.layer)
    where = resolve_device(device)
    problem = precision_problem(config.precision, where, allow_emulated=allow_emulated_bf16)
    if problem:
        raise EmbedderError(problem)
    model, identity = _load_state(spec, config.weights)
    resolved = EmbedderConfig(model=spec.name, layer=layer.name, weights=config.weights, precision=config.precision)
    return Embedder(spec, layer, model, identity, resolved, where)
