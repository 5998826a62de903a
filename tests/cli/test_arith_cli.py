"""``latentspace analogy|shift|walk|direction``, run in process against a real server: the JSON
output equals what the client library returns, and mistakes are one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from support.photos import photo_bytes


def run(capsys, *args) -> tuple[int, str, str]:
    from latentspace.cli.main import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _hits(result) -> list[dict]:
    return [{"id": h.id, "score": h.score, "path": h.path, "label": h.label} for h in result.hits]


@pytest.fixture
def served(start_server, small_index):
    from latentspace.client import Client

    running = start_server(small_index)
    with Client(running.address) as client:
        yield running.address, client


def test_analogy_forms_equal_the_client(served, tmp_path, capsys):
    from latentspace.client import Term

    address, client = served
    code, out, _ = run(capsys, "analogy", "id:1", "id:2", "id:3", "-k", 4, "--json", "--server", address)
    assert code == 0
    assert json.loads(out) == {"method": "add", "metric": "cosine", "hits": _hits(client.analogy(1, 2, 3, k=4))}

    image = tmp_path / "leaf.png"
    image.write_bytes(photo_bytes(81, (40, 170, 60)))
    vector = np.abs(np.random.default_rng(3).normal(size=4096)).astype(np.float32)
    np.save(tmp_path / "v.npy", vector)
    client.create_direction("cli-dir", vector=vector[::-1].copy())
    code, out, _ = run(capsys, "analogy", "-p", "id:5", "0.5*" + str(image), "dir:cli-dir", "-n", f"vec:{tmp_path}/v.npy",
                       "--method", "cosmul", "-k", 3, "--label", "red", "--label", "green", "--json", "--server", address)
    assert code == 0
    expected = client.combine([5, Term.of(image, weight=0.5), Term.named("cli-dir")], [vector], method="cosmul", k=3,
                              labels=["red", "green"])
    assert json.loads(out) == {"method": "cosmul", "metric": "cosmul", "hits": _hits(expected)}

    code, out, _ = run(capsys, "analogy", "id:1", "id:2", "id:3", "-k", 2, "--include-terms", "--server", address)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["#", "id", "cosine", "label", "path"] and len(lines) == 3
    assert [int(line.split()[1]) for line in lines[1:]] == client.analogy(1, 2, 3, k=2, include_terms=True).ids


def test_shift_and_walk_equal_the_client(served, tmp_path, capsys):
    address, client = served
    client.create_direction("redder", labels=("red", "blue"))
    code, out, _ = run(capsys, "shift", "id:4", "--direction", "redder", "--alphas=-0.5,0,1", "-k", 3, "--json",
                       "--server", address)
    assert code == 0
    expected = client.shift(4, direction="redder", alphas=[-0.5, 0, 1], k=3)
    assert json.loads(out) == {"metric": "cosine",
                               "steps": [{"alpha": s.position, "hits": _hits(s.result)} for s in expected]}
    np.save(tmp_path / "d.npy", client.get_direction("redder").vector)
    code, out2, _ = run(capsys, "shift", "id:4", "--vector", tmp_path / "d.npy", "--alphas=-0.5,0,1", "-k", 3,
                        "--json", "--server", address)
    assert code == 0 and json.loads(out2) == json.loads(out)

    code, out, _ = run(capsys, "walk", "id:1", "id:12", "--steps", 4, "--slerp", "--unique", "-k", 2, "--json",
                       "--server", address)
    assert code == 0
    expected = client.walk(1, 12, steps=4, slerp=True, unique=True, k=2)
    assert json.loads(out) == {"metric": "cosine", "steps": [{"t": s.position, "hits": _hits(s.result)} for s in expected]}
    code, out, _ = run(capsys, "walk", "id:1", "id:12", "--steps", 3, "-k", 2, "--server", address)
    lines = out.splitlines()
    assert code == 0 and [line.split()[0] for line in lines] == ["t=0", "t=0.5", "t=1"]


def test_direction_commands(served, tmp_path, capsys):
    address, client = served
    code, out, _ = run(capsys, "direction", "create", "warm", "--from-labels", "red", "blue", "--json",
                       "--server", address)
    assert code == 0
    created = json.loads(out)
    assert created["name"] == "warm" and created["kind"] == "labels" and created["dimension"] == 4096
    code, out, _ = run(capsys, "direction", "create", "greener", "--from-sets", "-p", "id:5", "id:6", "-n", "id:1",
                       "--server", address)
    assert code == 0 and out.startswith("created direction greener (sets, norm ")
    code, out, _ = run(capsys, "direction", "list", "--json", "--server", address)
    listed = json.loads(out)["directions"]
    assert [d["name"] for d in listed] == ["greener", "warm"] and not any("accuracy" in d for d in listed)
    code, out, _ = run(capsys, "direction", "list", "--server", address)
    assert out.splitlines()[0].split()[:4] == ["name", "kind", "norm", "accuracy"] and " - " in out.splitlines()[-1]
    code, out, _ = run(capsys, "direction", "show", "warm", "--out", tmp_path / "warm.npy", "--server", address)
    assert code == 0 and "labels" in out and "4096-d" in out
    np.testing.assert_array_equal(np.load(tmp_path / "warm.npy"), client.get_direction("warm").vector)
    code, out, _ = run(capsys, "direction", "delete", "warm", "--json", "--server", address)
    assert code == 0 and json.loads(out) == {"deleted": "warm"}
    assert [d.name for d in client.list_directions()] == ["greener"]

    code, _, err = run(capsys, "direction", "show", "warm", "--server", address)
    assert code == 1 and err.strip().startswith("latentspace direction: error: not found: no direction named 'warm'; "
                                                "stored directions: greener (request id ")
    code, _, err = run(capsys, "direction", "create", "x", "--from-classes", "tabby", "tigr", "--server", address)
    assert code == 1 and "close matches: 'tiger'" in err


def test_usage_mistakes_are_one_line_errors(served, tmp_path, capsys):
    address, _ = served
    cases = [
        (("analogy", "id:1", "id:2"), 2, "give three terms A B C"),
        (("analogy", "id:x", "id:2", "id:3"), 2, "the id after 'id:' must be an integer"),
        (("analogy", "-p", tmp_path / "missing.jpg"), 2, "cannot read this image"),
        (("analogy", "-p", "vec:" + str(tmp_path / "missing.npy")), 2, "not a .npy file"),
        (("shift", "dir:warm", "--direction", "warm"), 2, "a direction is not a point"),
        (("shift", "id:1", "--direction", "warm", "--alphas", "a,b"), 2, "give comma-separated numbers"),
        (("walk", "id:1", "id:999", "--steps", 3), 1, "not found: end (item 999): no item with id 999"),
        (("direction", "create", "x", "--from-labels", "red", "blue", "-p", "id:1"), 2, "go with --from-sets"),
        (("direction", "create", "x", "--from-sets", "-p", "id:1"), 2, "needs --positive"),
    ]
    for args, code, text in cases:
        got, _, err = run(capsys, *args, "--server", address)
        assert (got, len(err.strip().splitlines())) == (code, 1), (args, err)
        assert text in err, (args, err)
