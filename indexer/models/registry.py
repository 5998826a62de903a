"""The registry of networks: each model module registers the builder of its spec by name.

As torchvision's ``models/_api.py`` registers model builders, a module in this package marks the
function that returns its :class:`~latentspace.indexer.embedders.EmbedderSpec` with
:func:`register_embedder`; the package imports every module once, so adding a network means adding
a module here and nothing elsewhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from latentspace.indexer.embedders import EmbedderError, EmbedderSpec

__all__ = ["get_spec", "list_embedders", "register_embedder"]

SpecBuilder = Callable[[], EmbedderSpec]

_BUILDERS: dict[str, SpecBuilder] = {}


def register_embedder(name: str) -> Callable[[SpecBuilder], SpecBuilder]:
    """``@register_embedder("alexnet")`` over a function returning that network's spec.

    The function is called once (its spec is cached), so the spec it returns is one object.
    """

    def register(builder: SpecBuilder) -> SpecBuilder:
        if name in _BUILDERS:
            raise ValueError(f"an embedder named {name!r} is already registered")
        cached = functools.cache(builder)
        _BUILDERS[name] = cached
        return cached

    return register


def list_embedders() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_BUILDERS)


def get_spec(name: str) -> EmbedderSpec:
    """The spec of the network registered as ``name``; EmbedderError naming the choices otherwise."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        known = ", ".join(list_embedders())
        raise EmbedderError(f"unknown model {name!r}; choose one of: {known}") from None
    spec = builder()
    if spec.name != name:
        raise EmbedderError(f"the builder registered as {name!r} returns the spec of {spec.name!r}")
    return spec
