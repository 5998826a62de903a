"""Named directions: computed from examples, labels or classifier rows, stored in the index.

The store keeps them beside the items (:meth:`IndexStore.put_direction` and its siblings), so
they survive restarts and travel with the index directory. A direction is checked completely
(name free, examples found, vector finite and non-zero) before it is written: a failed request
stores nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from latentspace.indexer.models.categories import AmbiguousClass, ClassOutOfRange, UnknownClass
from latentspace.indexer.models.categories import find_class as categories_find_class
from latentspace.indexer.item_db import Direction
from latentspace.indexer.store import DirectionExists
from latentspace.server.arithmetic.learned_directions import (
    LEARNED_METHODS,
    Corpus,
    LearnedDirection,
    fit_direction,
    sample_positions,
)
from latentspace.server.arithmetic.requests import DirectionSource, FromClasses, FromLabels, FromSets, FromVector
from latentspace.server.arithmetic.trajectories import (
    direction_from_classifier,
    direction_from_means,
    direction_from_sets,
    unit_mean,
)
from latentspace.server.config import ArithmeticLimits
from latentspace.server.errors import (
    AlreadyExists,
    InvalidQuery,
    NotFound,
    PreconditionFailed,
    is_disk_full,
    storage_full,
)
from latentspace.server.search.deadline import NO_DEADLINE, Deadline
from latentspace.server.search.engine import SearchEngine
from latentspace.server.search.exact_top import chunk_rows
from latentspace.server.search.queries import Named, describe
from latentspace.server.search.resolve import known_directions
from latentspace.server.search.validation import check_label, check_vector

__all__ = ["DirectionBook", "NAME_RULE", "check_direction_name", "find_class"]

LABEL_EXAMPLES = 5000
"""Most items of each label a learned probe between two labels fits on (a seeded sample of a
larger label): the probe holds its examples, and more than this adds little to a linear fit."""

NAME_RULE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""What a direction name may be: safe in a file name, a URL or a shell word without quoting."""


def check_direction_name(name: str) -> str:
    if not NAME_RULE.fullmatch(name):
        raise InvalidQuery(f"direction name {name!r} is not allowed: use 1 to 64 characters of "
                           f"A-Z, a-z, 0-9, '_', '.' and '-'")
    return name


def find_class(categories: Sequence[str], text: str, *, what: str) -> int:
    """The index of an ImageNet class named ``text`` (see :func:`latentspace.indexer.models.categories.find_class`):
    InvalidQuery if the name is ambiguous or the index past the last class, NotFound (with close names) if no class has it."""
    try:
        return categories_find_class(categories, text)
    except (AmbiguousClass, ClassOutOfRange) as exc:
        raise InvalidQuery(f"{what}: {exc}") from None
    except UnknownClass as exc:
        raise NotFound(f"{what}: {exc}") from None


class DirectionBook:
    """Create, list, get and delete the named directions of one engine's index."""

    def __init__(self, engine: SearchEngine, limits: ArithmeticLimits) -> None:
        self.engine = engine
        self.limits = limits

    @property
    def _store(self):
        return self.engine.store

    def create(self, name: str, source: DirectionSource, *, deadline: Deadline = NO_DEADLINE) -> Direction:
        """Compute and store a direction (a learned one with its probe's held-out accuracy);
        AlreadyExists if ``name`` is taken."""
        with self.engine.operation():
            return self._create(name, source, deadline)

    def _create(self, name: str, source: DirectionSource, deadline: Deadline) -> Direction:
        check_direction_name(name)
        if self._store.get_direction(name) is not None:  # before any embedding work
            raise AlreadyExists(f"a direction named {name!r} already exists; delete it first or choose another name")
        learned = getattr(source, "learned", "")
        if learned and learned not in LEARNED_METHODS:  # before any embedding work
            raise InvalidQuery(f"unknown learned direction method {learned!r}; choose one of {', '.join(LEARNED_METHODS)}")
        accuracy = None
        if isinstance(source, FromSets):
            kind, (vector, description) = "sets", self._from_sets(source, deadline)
        elif isinstance(source, FromLabels):
            kind, (vector, description) = "labels", self._from_labels(source)
        elif isinstance(source, FromClasses):
            kind, (vector, description) = "classes", self._from_classes(source)
        elif isinstance(source, FromVector):
            kind = "vector"
            store = self.engine.store
            vector = check_vector(source.values, store.dim, store.metric, what="direction vector")
            if not vector.any():
                raise InvalidQuery("direction vector is all zeros, it has no direction")
            description = f"a raw {len(vector)}-d vector"
        else:
            raise InvalidQuery("the direction names no source: give sets, labels, classes or a vector")
        if isinstance(vector, LearnedDirection):
            kind, accuracy, vector = "learned", vector.accuracy, vector.vector
        deadline.check("before the direction was stored")
        try:
            return self._store.put_direction(name, kind, description, np.asarray(vector, dtype=np.float32), accuracy)
        except DirectionExists:  # created by a concurrent request since the check above
            raise AlreadyExists(f"a direction named {name!r} already exists") from None
        except OSError as exc:
            if is_disk_full(exc):
                raise storage_full(exc, f"direction {name!r} was not stored") from exc
            raise

    def _from_sets(self, source: FromSets, deadline: Deadline) -> tuple[np.ndarray, str]:
        sides = (("positive", source.positive), ("negative", source.negative))
        for side, examples in sides:
            if not examples:
                raise InvalidQuery(f"{side} examples: give at least one item, image or vector")
            if len(examples) > self.limits.max_examples:
                raise InvalidQuery(f"{side} examples: {len(examples)} given, at most {self.limits.max_examples} allowed")
        entries = [Named(q, f"{side} {i} ({describe(q)})") for side, examples in sides
                   for i, q in enumerate(examples, 1)]
        vectors = self.engine.resolve(entries, nonzero=True, deadline=deadline)
        n = len(source.positive)
        examples = f"{_summary(source.positive)} minus {_summary(source.negative)}"
        if source.learned:
            fitted = self._learn(source.learned, vectors[:n], vectors[n:])
            return fitted, f"{fitted.describe()}: {examples}"
        vector = direction_from_sets(vectors[:n], vectors[n:])
        return vector, f"mean of {n} positive minus mean of {len(source.negative)} negative examples: {examples}"

    def _learn(self, method: str, positives: np.ndarray, negatives: np.ndarray) -> LearnedDirection:
        """A linear probe between the example sets; probe and whitened read the index's vectors,
        chunk by chunk (the covariance) or as a bounded seeded sample (the whitening)."""
        corpus = self._corpus() if method in ("probe", "whitened") else None
        return fit_direction(positives, negatives, method=method, corpus=corpus)

    def _corpus(self) -> Corpus:
        store = self._store
        rows = chunk_rows(store.dim, budget=self.engine.config.scan_chunk_bytes)

        def sample(count: int, seed: int) -> np.ndarray:
            ids = store.ids()
            return self.engine._live_rows(ids[sample_positions(len(ids), count, seed)].tolist())[1]

        return Corpus(lambda: (v for _, v in store.iter_vector_chunks(rows)), sample)

    def _label_rows(self, label: str, what: str) -> np.ndarray:
        """A label's non-zero vectors (a seeded sample of ``LABEL_EXAMPLES`` when it has more), for
        a learned probe between two labels."""
        ids = self._store.ids_with_labels([label])
        _, rows = self.engine._live_rows(ids[sample_positions(len(ids), LABEL_EXAMPLES, 0)].tolist())
        rows = rows[rows.any(axis=1)]
        if len(rows) == 0:
            raise InvalidQuery(f"{what}: every item with label {label!r} has an all-zero vector")
        return rows

    def _from_labels(self, source: FromLabels) -> tuple[np.ndarray, str]:
        """The mean difference of two labels' unit vectors, averaged in chunks over every item of
        each; a learned probe fits on at most ``LABEL_EXAMPLES`` of each (a seeded sample)."""
        a = check_label(source.positive, what="positive label")
        b = check_label(source.negative, what="negative label")
        if a == b:
            raise InvalidQuery(f"positive and negative labels are both {a!r}: that has no direction")
        store = self.engine.store
        counts = store.label_counts()
        rows = chunk_rows(store.dim, budget=self.engine.config.scan_chunk_bytes)
        sides = []
        for what, label in (("positive label", a), ("negative label", b)):
            if not counts.get(label):
                known = ", ".join(repr(k) for k in list(counts)[:20]) or "none"
                raise NotFound(f"{what}: no item has label {label!r}; labels in the index: {known}")
            if source.learned:
                sides.append(self._label_rows(label, what))
                continue
            chunks = (v for _, v in store.iter_vector_chunks(rows, allowed_ids=store.ids_with_labels([label])))
            mean, used = unit_mean(chunks)
            if mean is None:
                raise InvalidQuery(f"{what}: every item with label {label!r} has an all-zero vector")
            sides.append((mean, used))
        if source.learned:
            pos, neg = sides
            fitted = self._learn(source.learned, pos, neg)
            sampled = f"label {a!r} ({len(pos)} items) minus label {b!r} ({len(neg)} items)"
            return fitted, f"{fitted.describe()}: {sampled}"
        (pos_mean, pos_count), (neg_mean, neg_count) = sides
        labels = f"label {a!r} ({pos_count} items) minus label {b!r} ({neg_count} items)"
        return direction_from_means(pos_mean, neg_mean), labels

    def _from_classes(self, source: FromClasses) -> tuple[np.ndarray, str]:
        embedder = self.engine.embedder
        if embedder is None:
            raise PreconditionFailed("classifier directions need the model's final layer, but this index holds "
                                     "vectors imported without an embedder (--model none); make the direction "
                                     "from examples or labels instead")
        if not embedder.layer.penultimate:
            raise PreconditionFailed(
                f"classifier directions act on the penultimate layer, but this index holds {embedder.name} "
                f"{embedder.layer.name} vectors; build the index with the default layer to use them")
        categories = list(embedder.spec.categories)
        a = find_class(categories, source.positive, what="positive class")
        b = find_class(categories, source.negative, what="negative class")
        if a == b:
            raise InvalidQuery(f"positive and negative class are both {categories[a]!r}: that has no direction")
        weight, _ = embedder.classifier_weights()
        vector = direction_from_classifier(weight, a, b)
        return vector, (f"classifier row of {categories[a]!r} ({a}) minus row of {categories[b]!r} ({b}) "
                        f"in {embedder.name}'s final layer")

    def get(self, name: str) -> Direction:
        with self.engine.operation():
            found = self._store.get_direction(name)
            if found is None:
                raise NotFound(f"no direction named {name!r}; {known_directions(self._store)}")
            return found

    def list(self) -> list[Direction]:
        with self.engine.operation():
            return self._store.list_directions()

    def delete(self, name: str) -> None:
        with self.engine.operation():
            if not self._store.delete_direction(name):
                raise NotFound(f"no direction named {name!r}; {known_directions(self._store)}")


def _summary(examples: Sequence, limit: int = 5) -> str:
    names = [describe(q) for q in examples]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
