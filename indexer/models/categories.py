"""Finding an ImageNet class by what a person types: its name in any case, or its index.

Used wherever a class is named (``direction create --from-classes``, ``visualize --class``), so the
rules and the hints are the same everywhere; each caller turns the two errors into its own.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

__all__ = ["AmbiguousClass", "ClassOutOfRange", "UnknownClass", "find_class"]


class UnknownClass(LookupError):
    """No class has that name or index; the message lists close names."""


class AmbiguousClass(ValueError):
    """Two classes share the name when case is ignored; the message lists both."""


class ClassOutOfRange(ValueError):
    """A class index past the last class; the message names the range."""


def find_class(categories: Sequence[str], text: str) -> int:
    """The index of the class named ``text``: exactly, else case-insensitively, else as a number
    0..len−1. A name two classes share when case is ignored (``cardigan``: the dog and the sweater)
    must be spelt exactly or given by index."""
    if text in categories:
        return categories.index(text)
    folded = [c.casefold() for c in categories]
    matches = [i for i, c in enumerate(folded) if c == text.casefold()]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        options = ", ".join(f"{categories[i]!r} ({i})" for i in matches)
        raise AmbiguousClass(f"{text!r} could be any of {options}; spell it exactly or give the index")
    if text.strip().isdigit():
        if int(text) < len(categories):
            return int(text)
        raise ClassOutOfRange(f"class index {text.strip()} is out of range: classes are 0..{len(categories) - 1}")
    close = difflib.get_close_matches(text.casefold(), folded, n=5, cutoff=0.6)
    hint = ("; close matches: " + ", ".join(repr(categories[folded.index(c)]) for c in close)) if close else ""
    raise UnknownClass(f"no ImageNet class named {text!r}{hint}")
