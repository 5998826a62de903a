"""The networks latentspace can embed with: one module each, registered by name.

Each module describes its network on an :class:`~latentspace.indexer.embedders.EmbedderSpec`
(layers to embed from, layers whose units can be drawn, classifier, first convolution,
preprocessing, weights) and registers it with :func:`register_embedder`.
"""

from __future__ import annotations

from latentspace.indexer.models import alexnet, efficientnet_lite0  # noqa: F401  (each registers its spec)
from latentspace.indexer.models.registry import get_spec, list_embedders, register_embedder

__all__ = ["get_spec", "list_embedders", "register_embedder"]
