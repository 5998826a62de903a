"""The networks latentspace can embed with: one module and one entry each."""

from __future__ import annotations

from latentspace.indexer.embedders import EmbedderError, EmbedderSpec
from latentspace.indexer.models import alexnet, efficientnet_lite0

EMBEDDERS: dict[str, EmbedderSpec] = {spec.name: spec for spec in (alexnet.SPEC, efficientnet_lite0.SPEC)}


def get_spec(name: str) -> EmbedderSpec:
    try:
        return EMBEDDERS[name]
    except KeyError:
        known = ", ".join(sorted(EMBEDDERS))
        raise EmbedderError(f"unknown model {name!r}; choose one of: {known}") from None
