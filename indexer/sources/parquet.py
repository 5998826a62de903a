"""Parquet files whose rows carry image bytes, as img2dataset's ``parquet`` output writes them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from latentspace.indexer.sources.items import SourceError, SourceItem

__all__ = ["scan_parquet"]


def scan_parquet(files: Sequence[Path], *, image_column: str = "jpg", label_column: str | None = None) -> list[SourceItem]:
    """One item per row of each file (row numbers count from 0 in each file); only the label column is read here."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise SourceError("reading Parquet needs pyarrow: pip install 'latentspace[ray]' or pip install pyarrow") from None
    items: list[SourceItem] = []
    for file in files:
        path = Path(file).expanduser().resolve()
        try:
            stat = os.stat(path)
            handle = pq.ParquetFile(path)
        except FileNotFoundError:
            raise SourceError(f"Parquet file {file} does not exist") from None
        except Exception as exc:  # pyarrow's ArrowInvalid for a file that is not Parquet
            raise SourceError(f"{file} is not a readable Parquet file ({exc})") from None
        with handle:
            names = handle.schema_arrow.names
            for column, flag in ((image_column, "--parquet-image-column"), (label_column, "--parquet-label-column")):
                if column is not None and column not in names:
                    raise SourceError(f"{file} has no column {column!r} (it has {', '.join(names)}); choose one with {flag}")
            rows = handle.metadata.num_rows
            labels = (["" if v is None else str(v) for v in handle.read(columns=[label_column]).column(0).to_pylist()]
                      if label_column is not None else [""] * rows)
        stamp = (stat.st_size, stat.st_mtime_ns)
        items.extend(SourceItem(key=f"{path}#{row}.{image_column}", label=labels[row], container=str(path), kind="parquet",
                                member=image_column, offset=row, stamp=stamp) for row in range(rows))
    return items
