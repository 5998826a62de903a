"""Where a corpus's images come from: folders and path lists, WebDataset tar shards, Parquet files.

Both indexers (local and Ray) take a list of :class:`SourceItem`; each item's key is stored as
its path and :func:`read_key` reads the image back by it.
"""

from latentspace.indexer.sources.items import SourceError, SourceItem, read_item, read_key, split_key
from latentspace.indexer.sources.open import FORMATS, SourceOptions, open_source
from latentspace.indexer.sources.webdataset import expand_braces

__all__ = ["FORMATS", "SourceError", "SourceItem", "SourceOptions", "expand_braces", "open_source", "read_item",
           "read_key", "split_key"]
