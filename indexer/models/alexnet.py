"""torchvision's AlexNet (Krizhevsky et al., 2012), read at fc7 or fc6 after their ReLU."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import torch
from torchvision.models import AlexNet_Weights, alexnet

from latentspace.indexer.embedders import EmbedderSpec, LayerSpec, StateDict, WeightsUnavailable

WEIGHTS = AlexNet_Weights.IMAGENET1K_V1


def cached_weights_path() -> Path:
    """Where torchvision's weights API looks before it downloads (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(WEIGHTS.url).path).name


def _load_pretrained() -> StateDict:
    path = cached_weights_path()
    try:
        return WEIGHTS.get_state_dict(progress=True, check_hash=True)
    except Exception as exc:  # urllib, OSError and hash errors all mean the same to the user
        raise WeightsUnavailable(
            f"AlexNet's ImageNet weights ({path.name}) are not in the torch hub cache at {path} "
            f"and could not be downloaded ({exc.__class__.__name__}: {exc}). Put the file there "
            f"(it is {WEIGHTS.url}), or pass --weights PATH to a state-dict file, "
            f"or --weights random for untrained weights."
        ) from exc


SPEC = EmbedderSpec(
    name="alexnet",
    description="torchvision AlexNet, ImageNet-1k",
    layers=(
        # classifier = [Dropout, Linear(fc6), ReLU, Dropout, Linear(fc7), ReLU, Linear(fc8)]
        LayerSpec("fc7", "classifier.5", 4096, penultimate=True),
        LayerSpec("fc6", "classifier.2", 4096),
    ),
    default_layer="fc7",
    classifier="classifier.6",
    first_conv="features.0",
    categories=tuple(WEIGHTS.meta["categories"]),
    build=lambda: alexnet(weights=None),
    make_preprocess=WEIGHTS.transforms,
    load_pretrained=_load_pretrained,
    pretrained_description=f"torchvision AlexNet_Weights.IMAGENET1K_V1 ({Path(WEIGHTS.url).name})",
)
