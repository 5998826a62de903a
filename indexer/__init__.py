"""Build and open latentspace index directories: embed images, store vectors, search them.

A program can do without the command line::

    from pathlib import Path
    from latentspace.indexer import (EmbedderConfig, EmbedderInfo, IndexSettings, IndexStore,
                                     WeightsChoice, discover, index_corpus, load_embedder)

    embedder = load_embedder(EmbedderConfig(model="alexnet", weights=WeightsChoice.parse("random")))
    with IndexStore.create(Path("my-index"), EmbedderInfo.from_embedder(embedder), IndexSettings()) as store:
        report = index_corpus(discover(Path("photos")), store, embedder)
        scores, ids = store.search(embedder.embed_images([some_pil_image]), k=5)
"""

from latentspace.indexer.corpus import CorpusEntry, CorpusError, discover
from latentspace.indexer.embedders import (
    Embedder,
    EmbedderConfig,
    EmbedderError,
    WeightsChoice,
    WeightsUnavailable,
    load_embedder,
)
from latentspace.indexer.export import export_npz
from latentspace.indexer.images import DecodedImage, ImageRejected, decode_image
from latentspace.indexer.item_db import Item, NewItem
from latentspace.indexer.manifest import EmbedderInfo, IndexMismatch, Manifest
from latentspace.indexer.pipeline import IndexOptions, IndexReport, index_corpus
from latentspace.indexer.store import IndexCorrupt, IndexLocked, IndexSettings, IndexStore, exact_search

__all__ = [
    "CorpusEntry",
    "CorpusError",
    "DecodedImage",
    "Embedder",
    "EmbedderConfig",
    "EmbedderError",
    "EmbedderInfo",
    "ImageRejected",
    "IndexCorrupt",
    "IndexLocked",
    "IndexMismatch",
    "IndexOptions",
    "IndexReport",
    "IndexSettings",
    "IndexStore",
    "Item",
    "Manifest",
    "NewItem",
    "WeightsChoice",
    "WeightsUnavailable",
    "decode_image",
    "discover",
    "exact_search",
    "export_npz",
    "index_corpus",
    "load_embedder",
]
