"""From the SOURCE argument to a list of items: a folder, a list of paths, tar shards or Parquet files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from latentspace.indexer.corpus import CorpusError, discover
from latentspace.indexer.images import IMAGE_SUFFIXES
from latentspace.indexer.sources.items import SourceError, SourceItem
from latentspace.indexer.sources.parquet import scan_parquet
from latentspace.indexer.sources.webdataset import expand_braces, scan_tar_shards

__all__ = ["FORMATS", "SourceOptions", "open_source"]

FORMATS = ("auto", "files", "webdataset", "parquet")


@dataclass(frozen=True)
class SourceOptions:
    format: str = "auto"
    """"files" (a folder or a list of paths), "webdataset", "parquet", or "auto" to tell by the name."""
    wds_image_keys: tuple[str, ...] = ("jpg", "png", "jpeg", "webp")
    wds_label_key: str | None = "cls"
    parquet_image_column: str = "jpg"
    parquet_label_column: str | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise SourceError(f"unknown source format {self.format!r}; choose one of {', '.join(FORMATS)}")
        if not self.wds_image_keys or not all(self.wds_image_keys):
            raise SourceError("give at least one WebDataset image key, e.g. jpg")


def _names(source: str) -> list[Path]:
    return [Path(name).expanduser() for name in expand_braces(source)]


def _guess(source: str) -> str:
    names = _names(source)
    suffixes = {p.suffix.lower() for p in names}
    if suffixes == {".tar"}:
        return "webdataset"
    if suffixes == {".parquet"}:
        return "parquet"
    path = names[0]
    if len(names) == 1 and path.is_dir():
        files = [p for p in path.iterdir() if p.is_file()]
        has_images = any(p.suffix.lower() in IMAGE_SUFFIXES for p in files) or any(p.is_dir() for p in path.iterdir())
        if not has_images and any(p.suffix.lower() == ".tar" for p in files):
            return "webdataset"
        if not has_images and any(p.suffix.lower() == ".parquet" for p in files):
            return "parquet"
    return "files"


def _containers(source: str, suffix: str) -> list[Path]:
    """A brace pattern's files, or every ``*suffix`` file of a folder (img2dataset's output folder)."""
    names = _names(source)
    if len(names) == 1 and names[0].is_dir():
        found = sorted(names[0].glob(f"*{suffix}"))
        if not found:
            raise SourceError(f"{source} holds no {suffix} files")
        return found
    return names


def open_source(source: str | Path, options: SourceOptions = SourceOptions()) -> list[SourceItem]:
    """Every item of ``source``, in a stable order; raises :class:`SourceError` for a source it cannot read."""
    text = str(source)
    kind = _guess(text) if options.format == "auto" else options.format
    if kind == "webdataset":
        return scan_tar_shards(_containers(text, ".tar"), image_keys=options.wds_image_keys, label_key=options.wds_label_key)
    if kind == "parquet":
        return scan_parquet(_containers(text, ".parquet"), image_column=options.parquet_image_column,
                            label_column=options.parquet_label_column)
    try:
        entries = discover(Path(text))
    except CorpusError as exc:
        raise SourceError(str(exc)) from None
    return [SourceItem(str(e.path), e.label, str(e.path)) for e in entries]
