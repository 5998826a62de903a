"""Helpers the tests import (``from support.photos import photo_bytes``); pytest puts ``tests/`` on
the path (``pythonpath`` in pyproject.toml). Fixtures stay in the ``conftest.py`` files.

    photos    seeded synthetic photos, a labelled corpus, encoded bytes
    servers   a test ServerConfig, a server in this process, ``latentspace serve`` in a child
    cli       ``latentspace`` run in this process; the one export helper
    oracle    exact NumPy searches and combinations, and the one comparator of results
    indexes   indexes built from synthetic vectors
    pictures  pixel comparisons and the contact-sheet layout
    load      client threads mixing searches with writes, and a check that an index is whole
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The repository's root."""
DEMO_CORPUS = REPO / "demo" / "corpus"
