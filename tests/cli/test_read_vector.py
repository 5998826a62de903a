"""``--vector FILE`` of anything but one vector in a .npy file ends in a one-line error, not a traceback."""

from __future__ import annotations

import numpy as np
import pytest

from latentspace.cli.common import CliError, read_vector
from latentspace.cli.main import main


@pytest.fixture
def files(tmp_path):
    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    text = tmp_path / "text.npy"
    text.write_text("0.1 0.2 0.3\n")
    cut = tmp_path / "cut.npy"
    np.save(cut, np.arange(8, dtype=np.float32))
    cut.write_bytes(cut.read_bytes()[:-12])
    archive = tmp_path / "two.npz"
    np.savez(archive, a=np.zeros(3))
    matrix = tmp_path / "matrix.npy"
    np.save(matrix, np.zeros((2, 3), dtype=np.float32))
    good = tmp_path / "good.npy"
    np.save(good, np.arange(4, dtype=np.float32)[None, :])
    return {"empty": empty, "text": text, "cut": cut, "archive": archive, "matrix": matrix, "good": good}


@pytest.mark.parametrize("name, words", [("empty", "empty or cut short"), ("text", "not a .npy file"),
                                          ("cut", "npy"), ("archive", ".npz archive"), ("matrix", "shape (2, 3)")])
def test_bad_files_raise_cli_errors_naming_the_flag(files, name, words):
    with pytest.raises(CliError) as caught:
        read_vector(files[name], f"--vector {files[name]}")
    assert str(caught.value).startswith(f"--vector {files[name]}")
    assert words in str(caught.value)


def test_a_good_file_gives_its_vector(files):
    assert read_vector(files["good"], "--vector").tolist() == [0.0, 1.0, 2.0, 3.0]


def test_search_with_an_empty_vector_file_prints_one_line(files, capsys):
    code = main(["search", "--vector", str(files["empty"]), "--server", "127.0.0.1:1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "empty or cut short" in err
