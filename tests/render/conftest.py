"""Fixtures for the picture tests: the shared small index, opened read-only."""

from __future__ import annotations

import pytest


@pytest.fixture
def store(small_index):
    """The 12-photo index of ``photo_corpus`` (a fresh copy per test), opened read-only."""
    from latentspace.indexer import IndexStore

    with IndexStore.open(small_index, readonly=True) as opened:
        yield opened


@pytest.fixture
def all_items(store):
    """Every item of ``store``, by id."""
    ids, _ = store.snapshot()
    return store.items(ids.tolist())

