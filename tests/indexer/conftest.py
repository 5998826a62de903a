"""Helpers for the indexer tests: run the CLI in-process, export an index, draw and encode images.

The shared drawing helpers live in ``tests/conftest.py``; they are plain functions, so they are
loaded here by path and handed to tests as fixtures (two ``conftest`` modules cannot both be
imported by that name).
"""

from __future__ import annotations

import importlib.util
import io
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

_spec = importlib.util.spec_from_file_location("_latentspace_shared_fixtures", Path(__file__).parent.parent / "conftest.py")
_shared = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_shared)
draw_photo = _shared.draw_photo
write_corpus = _shared.write_corpus


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(*args: object) -> CliResult:
    """``latentspace ARGS`` in this process: exit code, stdout and stderr."""
    from latentspace.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return CliResult(code, out.getvalue(), err.getvalue())


def index_cli(corpus: Path, index: Path, *extra: object) -> CliResult:
    """``latentspace index`` with the fast test defaults (random weights, no workers, no bar)."""
    args = [*extra]
    if "--weights" not in args:
        args += ["--weights", "random"]
    if "--workers" not in args:
        args += ["--workers", "0"]
    return run_cli("index", corpus, "--index", index, "--no-progress", *args)


def export_index(index: Path, out: Path | None = None) -> dict[str, np.ndarray]:
    """``latentspace export`` into a file beside the index, loaded as plain arrays."""
    out = out or index.parent / f"{index.name}-export.npz"
    result = run_cli("export", index, "--out", out)
    assert result.code == 0, result.text
    with np.load(out) as data:
        return {name: data[name] for name in data.files}


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def cli() -> Callable[..., CliResult]:
    return run_cli


@pytest.fixture(scope="session")
def index_run() -> Callable[..., CliResult]:
    return index_cli


@pytest.fixture(scope="session")
def export() -> Callable[..., dict[str, np.ndarray]]:
    return export_index


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
