"""Fixtures for the source-format and Ray tests: a corpus written as a folder, tar shards and Parquet."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.datasets import write_corpus


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory) -> list[Path]:
    """12 synthetic photos (JPEG and PNG) in three labelled folders."""
    return write_corpus(tmp_path_factory.mktemp("photos"), per_label=4)
