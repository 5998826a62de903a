"""torchvision's AlexNet (Krizhevsky et al., 2012), read at fc7 or fc6 after their ReLU."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

import torch
from torchvision.models import AlexNet_Weights, alexnet

from latentspace.indexer.embedders import EmbedderSpec, LayerSpec, Preprocessing, StateDict, UnitLayer, WeightsUnavailable
from latentspace.indexer.models.registry import register_embedder

WEIGHTS = AlexNet_Weights.IMAGENET1K_V1


def cached_weights_path() -> Path:
    """Where torchvision's weights API keeps the file (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(WEIGHTS.url).path).name


DOWNLOAD_TIMEOUT_SECONDS = 30.0
"""A download that cannot reach the server gives up after this, instead of hanging."""


def _unavailable(path: Path, problem: str) -> WeightsUnavailable:
    return WeightsUnavailable(
        f"AlexNet's ImageNet weights {problem}. Put {path.name} at {path} "
        f"(it is {WEIGHTS.url}; TORCH_HOME moves the cache), or pass --weights PATH to a state-dict "
        f"file, or --weights random for untrained weights."
    )


def _load_pretrained() -> StateDict:
    """The ImageNet state dict through torchvision's weights API: the hub cache first, else a download."""
    path = cached_weights_path()
    cached = path.is_file()
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)
    try:
        # weights_only: torch.hub's default unpickles arbitrary objects from the cache file.
        state = WEIGHTS.get_state_dict(progress=True, check_hash=True, weights_only=True)
    except Exception as exc:  # urllib, OSError, hash and unpickling errors all mean the same here
        if cached:
            raise _unavailable(path, f"in the torch hub cache cannot be read ({exc.__class__.__name__}: {exc})") from exc
        raise _unavailable(
            path, f"are not in the torch hub cache ({path} does not exist) and could not be downloaded ({exc})"
        ) from exc
    finally:
        socket.setdefaulttimeout(previous_timeout)
    # Check names and shapes against the architecture (built on the meta device: no memory,
    # no initialisation), so a wrong or damaged cache file is named instead of failing later.
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in alexnet(weights=None).state_dict().items()}
    found = (
        {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)} if isinstance(state, dict) else {}
    )
    if found != expected:
        raise _unavailable(path, f"in the torch hub cache are damaged or not AlexNet's: {path} holds other tensors")
    return state


@register_embedder("alexnet")
def alexnet_spec() -> EmbedderSpec:
    return EmbedderSpec(
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
        preprocessing=Preprocessing.from_preset(WEIGHTS.transforms()),
        load_pretrained=_load_pretrained,
        pretrained_description=f"torchvision AlexNet_Weights.IMAGENET1K_V1 ({Path(WEIGHTS.url).name})",
        # features = [conv, ReLU, pool, conv, ReLU, pool, conv, ReLU, conv, ReLU, conv, ReLU, pool]
        unit_layers=(
            UnitLayer("conv1", "features.1", "conv1 after ReLU, 64 units, 55×55 positions"),
            UnitLayer("conv2", "features.4", "conv2 after ReLU, 192 units, 27×27"),
            UnitLayer("conv3", "features.7", "conv3 after ReLU, 384 units, 13×13"),
            UnitLayer("conv4", "features.9", "conv4 after ReLU, 256 units, 13×13"),
            UnitLayer("conv5", "features.11", "conv5 after ReLU (before the last pool), 256 units, 13×13"),
            UnitLayer("fc6", "classifier.2", "fc6 after ReLU, 4096 units"),
            UnitLayer("fc7", "classifier.5", "fc7 after ReLU, 4096 units (the default embedding)"),
        ),
    )


SPEC = alexnet_spec()
