"""The client commands of the CLI, run in process against a real server."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from support.cli import export_arrays
from support.oracle import brute_force
from support.photos import photo_bytes


def run(capsys, *args) -> tuple[int, str, str]:
    from latentspace.cli.main import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_search_info_add_embed_remove(server, small_index, tmp_path, capsys):
    address = server.address
    exported = export_arrays(small_index, tmp_path / "all.npz")
    capsys.readouterr()
    first = int(exported["ids"][0])

    code, out, _ = run(capsys, "search", "--server", address, "--id", first, "-k", 3, "--json")
    assert code == 0
    payload = json.loads(out)
    assert list(payload) == ["hits"] and all(list(h) == ["id", "score", "path", "label"] for h in payload["hits"])
    ids, scores = brute_force(exported, exported["vectors"][0], 3, "cosine", keep=exported["ids"] != first)
    assert [h["id"] for h in payload["hits"]] == ids
    np.testing.assert_allclose([h["score"] for h in payload["hits"]], scores, atol=1e-5)

    code, out, _ = run(capsys, "search", "--server", address, "--id", first, "-k", 2, "--include-self", "--label", "red")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["#", "id", "cosine", "label", "path"] and len(lines) == 3
    assert all(" red " in line for line in lines[1:])

    code, out, _ = run(capsys, "info", "--server", address)
    assert code == 0 and "items     12" in out and "alexnet fc7, 4096-d" in out and "UNTRAINED" in out
    code, out, _ = run(capsys, "info", "--server", address, "--json")
    info = json.loads(out)
    assert (info["item_count"], info["metric"], info["uses_faiss"]) == (12, "cosine", True)
    assert {"latentspace", "torch", "faiss", "grpc"} <= set(info["versions"])

    image = tmp_path / "photos" / "leaf.png"
    image.parent.mkdir()
    image.write_bytes(photo_bytes(77, (40, 170, 60)))
    code, out, _ = run(capsys, "add", "--server", address, "--label", "green", image, "--json")
    assert code == 0
    [added] = json.loads(out)["items"]
    assert (added["path"], added["label"]) == ("leaf.png", "green")  # absolute paths are recorded by name
    assert added["stored_file"].startswith("images/") and (small_index / added["stored_file"]).is_file()

    vector_file = tmp_path / "leaf.npy"
    code, _, err = run(capsys, "embed", "--server", address, image, "--out", vector_file)
    assert code == 0 and "4096-d" in err
    code, out, _ = run(capsys, "search", "--server", address, "--vector", vector_file, "-k", 1, "--json")
    assert json.loads(out)["hits"][0]["id"] == added["id"]
    code, out, _ = run(capsys, "search", "--server", address, image, "-k", 1, "--json")
    assert json.loads(out)["hits"][0]["id"] == added["id"]
    code, out, _ = run(capsys, "embed", "--server", address, image)
    np.testing.assert_allclose(np.array(out.split(), dtype=np.float32), np.load(vector_file), rtol=1e-6)

    code, out, _ = run(capsys, "remove", "--server", address, added["id"])
    assert code == 0 and out.strip() == f"removed 1 item: {added['id']}"
    code, out, err = run(capsys, "remove", "--server", address, added["id"])
    assert code == 1 and out == ""
    # the server's request id ends the line, so the failure can be found in the server's log
    assert re.fullmatch(f"latentspace remove: error: not found: no item with id {added['id']}; nothing was removed "
                        r"\(request id [0-9a-f]{32}\)", err.strip())


def test_errors_are_one_line(server, capsys, tmp_path):
    code, _, err = run(capsys, "search", "--server", server.address, "--id", 1, "-k", 0)
    assert code == 1 and err.count("\n") == 1 and "invalid argument: k must be between 1 and 1000" in err
    code, _, err = run(capsys, "search", "--server", server.address)
    assert code == 2 and "exactly one of IMAGE, --id ID or --vector" in err
    bad = tmp_path / "bad.npy"
    np.save(bad, np.ones((2, 3)))
    code, _, err = run(capsys, "search", "--server", server.address, "--vector", bad)
    assert code == 2 and "expected one vector" in err
    code, _, err = run(capsys, "info", "--server", "127.0.0.1:9", "--timeout", "2")
    assert code == 1 and err.count("\n") == 1 and "unavailable: server at 127.0.0.1:9" in err
    with pytest.raises(SystemExit):
        run(capsys, "search", "--server", server.address, "--id", "seven")
