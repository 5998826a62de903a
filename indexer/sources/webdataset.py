"""WebDataset tar shards: samples grouped by key, one image member and an optional label member each.

A sample is the set of members sharing a key, the member name up to the first dot of its file
name (``train/0001.jpg`` and ``train/0001.cls`` are sample ``train/0001``), as WebDataset and
img2dataset write them. Shards are named by brace patterns such as ``shards/{00000..00099}.tar``.
"""

from __future__ import annotations

import os
import re
import tarfile
from collections.abc import Sequence
from pathlib import Path

from latentspace.indexer.sources.items import SourceError, SourceItem

__all__ = ["expand_braces", "scan_tar_shards"]

_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
_LIST = re.compile(r"\{([^{}]*,[^{}]*)\}")
MAX_LABEL_BYTES = 4096


def expand_braces(pattern: str) -> list[str]:
    """``a/{000..002}.tar`` → ``a/000.tar a/001.tar a/002.tar`` (zero padding kept); ``{x,y}`` lists too.

    The leftmost group varies slowest, as in the shell.
    """
    found = [m for m in (_RANGE.search(pattern), _LIST.search(pattern)) if m]
    if not found:
        return [pattern]
    match = min(found, key=lambda m: m.start())
    head, tail = pattern[: match.start()], pattern[match.end():]
    if match.re is _LIST:
        choices = match[1].split(",")
    else:
        first, last = match[1], match[2]
        if int(last) < int(first):
            raise SourceError(f"brace range {match[0]} in {pattern!r} counts down")
        if int(last) - int(first) >= 1_000_000:
            raise SourceError(f"brace range {match[0]} in {pattern!r} names over a million shards")
        width = len(first) if first.startswith("0") else 0
        choices = [f"{n:0{width}d}" for n in range(int(first), int(last) + 1)]
    return [name for choice in choices for name in expand_braces(head + choice + tail)]


def _sample_key(name: str) -> tuple[str, str]:
    folder, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), (ext.lower() if dot else "")


def scan_tar_shards(shards: Sequence[Path], *, image_keys: Sequence[str] = ("jpg", "png", "jpeg", "webp"),
                    label_key: str | None = "cls") -> list[SourceItem]:
    """One item per sample that has an image member, in shard then member order.

    ``image_keys`` are tried in order (the first a sample has is its image); the ``label_key``
    member, if present, is read as UTF-8 text and becomes the label.
    """
    items: list[SourceItem] = []
    wanted = [k.lower().lstrip(".") for k in image_keys]
    for shard in shards:
        path = Path(shard).expanduser().resolve()
        try:
            stat = os.stat(path)
            tar = tarfile.open(path, "r:")
        except FileNotFoundError:
            raise SourceError(f"WebDataset shard {shard} does not exist") from None
        except (OSError, tarfile.TarError) as exc:
            raise SourceError(f"{shard} is not a readable tar file ({exc})") from None
        samples: dict[str, dict[str, tarfile.TarInfo]] = {}
        labels: dict[str, str] = {}
        with tar:
            try:
                for member in tar:
                    if not member.isfile():
                        continue
                    key, ext = _sample_key(member.name)
                    samples.setdefault(key, {})[ext] = member
                    if label_key is not None and ext == label_key.lower() and member.size <= MAX_LABEL_BYTES:
                        handle = tar.extractfile(member)
                        labels[key] = handle.read().decode("utf-8", "replace").strip() if handle else ""
            except tarfile.TarError as exc:
                raise SourceError(f"{shard} is a damaged tar file ({exc})") from None
        for key, members in samples.items():
            image = next((members[k] for k in wanted if k in members), None)
            if image is None:
                continue
            items.append(SourceItem(
                key=f"{path}#{image.name}", label=labels.get(key, ""), container=str(path), kind="tar",
                member=image.name, offset=image.offset_data, length=image.size,
                stamp=(stat.st_size, stat.st_mtime_ns),
            ))
    return items
