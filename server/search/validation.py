"""Checks on what a request carries, done once where it enters the core.

Each function returns the cleaned value or raises :class:`InvalidQuery` (or :class:`TooLarge`)
with a message that names the field and says what to send instead.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np

from latentspace.server.errors import InvalidQuery, TooLarge

__all__ = ["check_ids", "check_k", "check_label", "check_labels", "check_path", "check_vector"]

MAX_PATH_CHARS = 4096
MAX_LABEL_CHARS = 256
MAX_LABELS = 256
# Control characters, lone surrogates and line/paragraph separators never belong in a path or label.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def check_k(k: int, max_k: int) -> int:
    if not 1 <= k <= max_k:
        raise InvalidQuery(f"k must be between 1 and {max_k}, got {k}")
    return int(k)


def check_vector(values: Sequence[float] | np.ndarray, dim: int, metric: str, *, what: str = "vector") -> np.ndarray:
    """A query vector as float32 ``(dim,)``: right length, finite, and not all zeros for cosine."""
    vector = np.asarray(values, dtype=np.float32)
    if vector.ndim != 1 or vector.shape[0] != dim:
        raise InvalidQuery(f"{what} has {vector.size} values; this index holds {dim}-dimensional vectors")
    bad = np.flatnonzero(~np.isfinite(vector))
    if len(bad):
        raise InvalidQuery(f"{what} has a non-finite value ({vector[bad[0]]}) at position {bad[0]}; "
                           f"{len(bad)} of its values are NaN or infinite")
    if metric == "cosine" and not vector.any():
        raise InvalidQuery(f"{what} is all zeros, which has no direction for cosine similarity")
    return vector


def check_ids(ids: Sequence[int], max_ids: int, *, what: str = "ids") -> list[int]:
    """Ids as ints: at least one, at most ``max_ids``, no repeats."""
    ids = [int(i) for i in ids]
    if not ids:
        raise InvalidQuery(f"no {what} given")
    if len(ids) > max_ids:
        raise TooLarge(f"{len(ids)} {what} in one request; the limit is {max_ids}, split the request")
    if len(set(ids)) != len(ids):
        seen: set[int] = set()
        repeated = sorted({i for i in ids if i in seen or seen.add(i)})
        raise InvalidQuery(f"duplicate {what} in the request: {', '.join(map(str, repeated[:10]))}")
    return ids


def _forbidden_char(text: str) -> str | None:
    for ch in text:
        if unicodedata.category(ch) in _FORBIDDEN_CATEGORIES:
            return ch
    return None


def check_path(path: str, *, what: str = "path") -> str:
    """A client's path, kept as metadata only: relative, no ``..``, no control characters.

    The server never opens or creates a file at this path; it is checked so that whatever
    later reads the metadata (an export, a contact sheet) cannot be steered outside a folder.
    """
    if len(path) > MAX_PATH_CHARS:
        raise InvalidQuery(f"{what} is {len(path)} characters long; the limit is {MAX_PATH_CHARS}")
    bad = _forbidden_char(path)
    if bad is not None:
        raise InvalidQuery(f"{what} {path!r} contains the control character U+{ord(bad):04X}")
    if path.startswith(("/", "\\")) or (len(path) >= 2 and path[1] == ":" and path[0].isalpha()):
        raise InvalidQuery(f"{what} {path!r} is absolute; give a relative path such as 'cats/tabby.jpg'")
    if ".." in path.replace("\\", "/").split("/"):
        raise InvalidQuery(f"{what} {path!r} has a '..' component; give a path inside the corpus")
    return path


def check_label(label: str, *, what: str = "label") -> str:
    if len(label) > MAX_LABEL_CHARS:
        raise InvalidQuery(f"{what} is {len(label)} characters long; the limit is {MAX_LABEL_CHARS}")
    bad = _forbidden_char(label)
    if bad is not None:
        raise InvalidQuery(f"{what} {label!r} contains the control character U+{ord(bad):04X}")
    return label


def check_labels(labels: Sequence[str]) -> tuple[str, ...]:
    if len(labels) > MAX_LABELS:
        raise TooLarge(f"{len(labels)} labels in one filter; the limit is {MAX_LABELS}")
    return tuple(check_label(label, what="label filter") for label in labels)
