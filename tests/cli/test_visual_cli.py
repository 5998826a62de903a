"""``latentspace kernels``, ``units`` and ``atlas`` write what they say and refuse bad requests clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from latentspace.cli.main import build_parser, main


def test_kernels_command_writes_the_grid(tmp_path, capsys):
    out = tmp_path / "k.png"
    assert main(["kernels", "--model", "alexnet", "--weights", "random:0", "--device", "cpu", "--out", str(out)]) == 0
    with Image.open(out) as picture:
        assert picture.size == (467, 467)
    assert "64 kernels of 11×11×3" in capsys.readouterr().out


def test_units_command_lists_draws_and_prints_json(small_index, tmp_path, capsys):
    sheet = tmp_path / "unit.png"
    code = main(["units", str(small_index), "--layer", "conv5", "--unit", "3", "--top", "4", "--out", str(sheet),
                 "--json", "--device", "cpu"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["layer"], report["unit"], report["units"], report["items"]) == ("conv5", 3, 256, 12)
    values = [row["activation"] for row in report["top"]]
    assert len(values) == 4 and values == sorted(values, reverse=True)
    assert [row["rank"] for row in report["top"]] == [1, 2, 3, 4]
    assert report["cache"].startswith(str(small_index / "activations"))
    acts = np.load(report["cache"])
    assert values[0] == pytest.approx(float(acts[:, 3].max()))
    with Image.open(sheet) as picture:
        assert picture.width > 4 * 128 and picture.height > 128

    assert main(["units", str(small_index), "--layer", "conv5", "--unit", "3", "--top", "2", "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "cached" in text and f"#{report['top'][0]['id']}" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--layer", "conv5", "--unit", "256"], "has units 0..255"),
        (["--layer", "conv9", "--unit", "0"], "choose one of: conv1"),
        (["--layer", "conv5", "--unit", "0", "--top", "0"], "--top must be at least 1"),
    ],
)
def test_units_command_refuses_bad_requests(small_index, capsys, argv, message):
    code = main(["units", str(small_index), "--device", "cpu", "--no-progress", *argv])
    assert code in (1, 2)
    assert message in capsys.readouterr().err


def test_atlas_command_writes_png_and_html(small_index, tmp_path, capsys):
    png, page = tmp_path / "atlas.png", tmp_path / "atlas.html"
    assert main(["atlas", str(small_index), "--out", str(png), "--html", str(page), "--grid", "4", "--tile", "32",
                 "--projection", "pca", "--no-progress"]) == 0
    with Image.open(png) as picture:
        assert picture.width <= 4 * 32 and picture.height <= 4 * 32
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>") and text.count("data:image/jpeg;base64,") >= 2
    assert "12 items" in capsys.readouterr().out


def test_atlas_command_needs_somewhere_to_write(small_index, capsys):
    assert main(["atlas", str(small_index)]) == 2
    assert "--out FILE.png, --html FILE.html" in capsys.readouterr().err


def test_atlas_of_a_missing_index_is_a_clear_error(tmp_path, capsys):
    assert main(["atlas", str(tmp_path / "nowhere"), "--out", str(tmp_path / "a.png")]) == 1
    assert "is not a latentspace index" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["kernels", "units", "atlas"])
def test_help_describes_the_command(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    assert len(capsys.readouterr().out) > 400
