"""``--sheet OUT.png`` on search, analogy, discover, shift and walk, run in process against a real server: the
file is the server's sheet, its path goes to stderr, and stdout is what it is without --sheet."""

from __future__ import annotations

import json

import numpy as np

from support.pictures import decode, geometry, mean_abs_diff


def run(capsys, *args) -> tuple[int, str, str]:
    from latentspace.cli.main import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_search_sheet_leaves_the_output_as_it_was(shared, tmp_path, capsys):
    running, client = shared
    address = running.address
    for extra in ([], ["--json"]):
        code, plain, _ = run(capsys, "search", "--id", 3, "-k", 4, *extra, "--server", address)
        assert code == 0
        out = tmp_path / f"search{len(extra)}.png"
        code, drawn, err = run(capsys, "search", "--id", 3, "-k", 4, "--sheet", out, *extra, "--server", address)
        assert code == 0 and drawn == plain
        assert str(out) in err
        image = decode(out.read_bytes())
        assert image.size == geometry(rows=1, query_columns=1, k=4).size
        assert mean_abs_diff(image, client.search_sheet(item_id=3, k=4).image()) == 0
    assert [h["id"] for h in json.loads(drawn)["hits"]] == client.search(item_id=3, k=4).ids


def test_analogy_discover_shift_and_walk_write_their_sheets(shared, tmp_path, capsys):
    running, client = shared
    address = running.address
    np.save(tmp_path / "d.npy", np.abs(np.random.default_rng(5).normal(size=4096)).astype(np.float32))
    cases = [
        (["analogy", "id:1", "id:6", "id:10", "-k", 3], geometry(rows=1, query_columns=3, k=3)),
        (["shift", "id:2", "--vector", tmp_path / "d.npy", "--alphas", "0,1,2", "-k", 2],
         geometry(rows=3, query_columns=2, k=2, steps=True)),
        (["walk", "id:1", "id:9", "--steps", 5, "-k", 2, "--slerp"], geometry(rows=5, query_columns=1, k=2, steps=True)),
        (["discover", "--target", "id:2", "--context", "id:5", "id:9", "-k", 3], geometry(rows=1, query_columns=3, k=3)),
    ]
    for args, geo in cases:
        code, plain, _ = run(capsys, *args, "--json", "--server", address)
        out = tmp_path / f"{args[0]}.png"
        code, drawn, err = run(capsys, *args, "--json", "--sheet", out, "--server", address)
        assert code == 0 and json.loads(drawn) == json.loads(plain), args[0]
        assert err.strip() == f"wrote sheet {out} ({geo.size[0]}×{geo.size[1]})"
        assert decode(out.read_bytes()).size == geo.size
    assert mean_abs_diff(decode(out.read_bytes()), client.discover_sheet(2, [(5, 9)], k=3).image()) == 0


def test_an_unwritable_sheet_path_is_a_one_line_error(shared, tmp_path, capsys):
    running, _ = shared
    code, out, err = run(capsys, "search", "--id", 3, "-k", 2, "--sheet", tmp_path / "missing" / "s.png",
                         "--server", running.address)
    assert code == 1 and out == ""
    assert err.startswith("latentspace search: error: No such file or directory") and len(err.splitlines()) == 1
