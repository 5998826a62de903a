"""``latentspace visualize --server``: the picture from a real server, with its progress bar and errors."""

from __future__ import annotations

from PIL import Image

from latentspace.cli.main import main


def test_visualize_on_a_server_writes_the_png_then_takes_it_from_the_cache(server, tmp_path, capsys):
    out = tmp_path / "tabby.png"
    flags = ["visualize", "--server", server.address, "--class", "tabby", "--steps", "4", "--size", "64",
             "--out", str(out)]
    assert main(flags) == 0
    captured = capsys.readouterr()
    assert "4/4" in captured.err  # the bar, fed by the stream
    assert f"wrote {out}: alexnet class 'tabby' (281) on {server.address}, 64 px, 4 steps" in captured.out
    assert Image.open(out).size == (64, 64)
    assert main([*flags[:-1], str(tmp_path / "again.png")]) == 0
    assert "from the server's cache" in capsys.readouterr().out
    assert (tmp_path / "again.png").read_bytes() == out.read_bytes()

    assert main([*flags, "--model", "alexnet", "--index", str(tmp_path)]) == 2
    assert "--index, --model cannot go with --server" in capsys.readouterr().err
    assert main(["visualize", "--server", server.address, "--layer", "conv9", "--unit", "0", "--out", str(out)]) == 1
    assert "not found" in (err := capsys.readouterr().err) and "conv1, conv2" in err
