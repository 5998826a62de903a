"""Finding a corpus's images: a folder searched recursively, or a text file of paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from latentspace.indexer.images import IMAGE_SUFFIXES

__all__ = ["CorpusEntry", "CorpusError", "discover"]


class CorpusError(ValueError):
    """The corpus argument names nothing we can read."""


@dataclass(frozen=True)
class CorpusEntry:
    path: Path
    """Absolute path of the image file."""
    label: str
    """The name of the folder holding the file ("" for files at the corpus root)."""


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def discover(corpus: Path) -> list[CorpusEntry]:
    """Every image of ``corpus``, sorted by path, each labelled by its parent folder's name.

    A folder is searched recursively for files with an image suffix (hidden files and folders
    are skipped). A text file lists one path per line (relative paths are taken from the list's
    folder; blank lines and lines starting with ``#`` are ignored); every listed path is kept,
    so a missing or broken one is reported rather than silently dropped.
    """
    corpus = corpus.expanduser()
    if corpus.is_dir():
        root = corpus.resolve()
        found = [
            path
            for path in root.rglob("*")
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not _is_hidden(path, root)
        ]
        return [CorpusEntry(path, path.parent.name if path.parent != root else "") for path in sorted(found)]
    if corpus.is_file():
        base = corpus.resolve().parent
        entries = []
        try:
            lines = corpus.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{corpus} is neither a folder nor a UTF-8 text file of paths ({exc})") from None
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            path = Path(line).expanduser()
            path = (path if path.is_absolute() else base / path).resolve()
            entries.append(CorpusEntry(path, path.parent.name))
        return entries
    raise CorpusError(f"corpus {corpus} does not exist: give a folder of images or a text file with one path per line")
