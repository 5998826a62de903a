"""Fixtures for the indexer tests: the CLI in-process, exports, image drawing and encoding."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from support.cli import CliResult, export_arrays, index_cli, run_cli
from support.photos import draw_photo, encode, write_corpus


@pytest.fixture(scope="session")
def cli() -> Callable[..., CliResult]:
    return run_cli


@pytest.fixture(scope="session")
def index_run() -> Callable[..., CliResult]:
    return index_cli


@pytest.fixture(scope="session")
def export() -> Callable[..., dict[str, np.ndarray]]:
    return export_arrays


@pytest.fixture(scope="session")
def draw() -> Callable[..., Image.Image]:
    return draw_photo


@pytest.fixture(scope="session")
def corpus_writer() -> Callable[..., list[Path]]:
    return write_corpus


@pytest.fixture(scope="session")
def encode_image() -> Callable[..., bytes]:
    return encode


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable
