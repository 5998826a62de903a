"""The ``latentspace`` command run in this process, and the one way tests export an index."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["CliResult", "export_arrays", "index_cli", "run_cli"]


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


def export_arrays(index: Path, out: Path | None = None) -> dict[str, np.ndarray]:
    """The index's stored ids, vectors, paths and labels, read back from ``latentspace export``
    (into ``out``, or a file beside the index)."""
    out = out or index.parent / f"{index.name}-export.npz"
    result = run_cli("export", index, "--out", out)
    assert result.code == 0, result.text
    with np.load(out) as data:
        return {name: data[name] for name in data.files}
