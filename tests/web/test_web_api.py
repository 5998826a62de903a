"""Every API route over real HTTP: the CLI's --json for the same query, and clear codes for bad input."""

from __future__ import annotations

import json

import pytest

from support.web import http


def cli_json(capsys, *argv) -> dict:
    from latentspace.cli.main import main

    assert main([str(a) for a in argv]) == 0
    return json.loads(capsys.readouterr().out)


def ids(web) -> list[int]:
    return [item.id for item in web.client.iter_items()]


def test_search_equals_the_cli(web, capsys):
    first = ids(web)[0]
    answer = http(web.url, f"/api/search?id={first}&k=4&label=red&label=blue")
    assert answer.status == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == cli_json(capsys, "search", "--server", web.address, "--id", first, "-k", 4,
                                     "--label", "red", "--label", "blue", "--json")
    with_self = http(web.url, f"/api/search?id={first}&k=2&include_self=1").json()
    assert with_self["hits"][0]["id"] == first


def test_image_search_is_a_post_of_the_file(web, capsys):
    photo = web.corpus / "blue" / "blue_2.jpg"
    answer = http(web.url, "/api/search?k=3", method="POST", body=photo.read_bytes())
    assert answer.status == 200
    assert answer.json() == cli_json(capsys, "search", "--server", web.address, photo, "-k", 3, "--json")


def test_combine_shift_walk_equal_the_cli(web, capsys):
    a, b, c = ids(web)[:3]
    assert http(web.url, f"/api/combine?p={a}&n={b}&p={c}&k=4").json() == cli_json(
        capsys, "analogy", f"id:{a}", f"id:{b}", f"id:{c}", "-k", 4, "--json", "--server", web.address)
    assert http(web.url, f"/api/combine?p={a}&p={c}&n={b}&method=best_score&k=3&label=green").json() == cli_json(
        capsys, "analogy", "-p", f"id:{a}", f"id:{c}", "-n", f"id:{b}", "--method", "best_score", "-k", 3,
        "--label", "green", "--json", "--server", web.address)
    summed = http(web.url, f"/api/combine?p={a}&p={c}&n={b}&method=sum_scores&k=3")
    assert summed.status == 200 and summed.json()["metric"] == "sum_scores"
    assert summed.json() == cli_json(capsys, "analogy", "-p", f"id:{a}", f"id:{c}", "-n", f"id:{b}", "--method",
                                     "sum_scores", "-k", 3, "--json", "--server", web.address)
    photo = web.corpus / "red" / "red_1.png"
    posted = http(web.url, f"/api/combine?n={b}&method=average&k=3", method="POST", body=photo.read_bytes())
    assert posted.json() == cli_json(capsys, "analogy", "-p", photo, "-n", f"id:{b}", "--method", "average", "-k", 3,
                                     "--json", "--server", web.address)
    assert http(web.url, f"/api/walk?a={a}&b={c}&steps=4&k=2&slerp=1&unique=1").json() == cli_json(
        capsys, "walk", f"id:{a}", f"id:{c}", "--steps", 4, "-k", 2, "--slerp", "--unique", "--json",
        "--server", web.address)
    created = http(web.url, "/api/directions", method="POST", json_body={"name": "greener", "labels": ["green", "red"]})
    try:
        assert created.status == 201
        assert created.json() == cli_json(capsys, "direction", "show", "greener", "--json", "--server", web.address)
        assert http(web.url, "/api/directions").json() == cli_json(
            capsys, "direction", "list", "--json", "--server", web.address)
        assert http(web.url, f"/api/shift?id={a}&direction=greener&alphas=-0.5,0,1&k=3").json() == cli_json(
            capsys, "shift", f"id:{a}", "--direction", "greener", "--alphas=-0.5,0,1", "-k", 3, "--json",
            "--server", web.address)
        shifted = http(web.url, "/api/shift?direction=greener&alphas=0.5&k=2", method="POST",
                       body=photo.read_bytes()).json()
        assert shifted == cli_json(capsys, "shift", photo, "--direction", "greener", "--alphas", "0.5", "-k", 2,
                                   "--json", "--server", web.address)
        again = http(web.url, "/api/directions", method="POST", json_body={"name": "greener", "labels": ["green", "red"]})
        assert again.status == 409 and "greener" in again.json()["error"]
    finally:
        deleted = http(web.url, "/api/directions/greener", method="DELETE")
    assert deleted.status == 200 and deleted.json() == {"deleted": "greener"}
    assert http(web.url, "/api/directions/greener", method="DELETE").status == 404
    sets = http(web.url, "/api/directions", method="POST", json_body={"name": "ab", "positive": [a], "negative": [b]})
    assert sets.status == 201 and sets.json()["kind"] == "sets"
    assert http(web.url, "/api/directions/ab", method="DELETE").status == 200


def test_info_items_labels_thumbnails_atlas(web, capsys):
    assert http(web.url, "/api/info").json() == cli_json(capsys, "info", "--server", web.address, "--json")
    items = list(web.client.iter_items())
    assert http(web.url, "/api/labels").json() == {"labels": sorted({i.label for i in items})}
    item = http(web.url, f"/api/items/{items[0].id}").json()
    assert item == {"id": items[0].id, "path": items[0].path, "label": items[0].label, "sha256": items[0].sha256,
                    "width": items[0].width, "height": items[0].height, "stored_file": None}
    png = http(web.url, f"/api/thumbnails/{items[0].id}.png?size=64")
    assert png.status == 200 and png.headers["content-type"] == "image/png"
    assert png.body == web.client.thumbnails([items[0].id], size=64)[items[0].id].png
    atlas = http(web.url, "/api/atlas?grid=3&projection=pca").json()
    assert max(atlas["rows"], atlas["columns"]) == 3 and atlas["items"] == len(items)
    cells = atlas["cells"]
    assert 1 < len(cells) <= 9 and {c["id"] for c in cells} <= {i.id for i in items}
    assert len({(c["row"], c["column"]) for c in cells}) == len(cells)
    assert http(web.url, "/api/atlas?grid=3&projection=pca").json() == atlas  # cached, and stable


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/api/search", 400, "give id=N"),
    ("/api/search?id=abc", 400, "whole number"),
    ("/api/search?id=1&k=0", 400, "at least 1"),
    ("/api/search?id=1&k=100000", 400, "k"),
    ("/api/search?id=424242", 404, "no item with id 424242"),
    ("/api/search?id=1&include_self=maybe", 400, "give 1 or 0"),
    ("/api/combine", 400, "give terms"),
    ("/api/combine?p=1&method=magic", 400, "add, cosmul, average, best_score, sum_scores"),
    ("/api/combine?p=1&pdir=nosuch", 404, "nosuch"),
    ("/api/shift?id=1", 400, "direction=NAME"),
    ("/api/shift?id=1&direction=nosuch", 404, "nosuch"),
    ("/api/shift?id=1&direction=x&alphas=a,b", 400, "comma-separated"),
    ("/api/walk?a=1", 400, "give b=N"),
    ("/api/walk?a=1&b=2&steps=1", 400, "at least 2"),
    ("/api/items/424242", 404, "424242"),
    ("/api/items/abc", 404, "no such page"),
    ("/api/thumbnails/1.png?size=2", 400, "at least 16"),
    ("/api/thumbnails/424242.png", 404, "424242"),
    ("/api/atlas?projection=tsne", 400, "umap or pca"),
    ("/api/atlas?grid=1", 400, "at least 2"),
    ("/etc/passwd", 404, "no such page"),
    ("/static/../../pyproject.toml", 404, "no such page"),
])
def test_bad_input_gets_a_clear_status(web, path, status, words):
    answer = http(web.url, path)
    assert answer.status == status, answer.body
    assert words in answer.json()["error"]


def test_bad_bodies_and_methods(web):
    assert http(web.url, "/api/search", method="POST", body=b"").status == 400
    not_image = http(web.url, "/api/search", method="POST", body=b"hello, not a picture")
    assert not_image.status == 400 and "not an image" in not_image.json()["error"]
    too_big = http(web.url, "/api/search", method="POST", body=b"\xff" * ((2 << 20) + 1))
    assert too_big.status == 413 and "limit" in too_big.json()["error"]
    assert http(web.url, "/api/walk?a=1&b=2", method="POST", body=b"x").status == 405
    assert http(web.url, "/api/directions", method="POST", body=b"{not json").status == 400
    for body in ({"labels": ["a", "b"]}, {"name": "bad name!", "labels": ["a", "b"]}, {"name": "x"},
                 {"name": "x", "labels": ["a"]}, {"name": "x", "positive": [1]}, {"name": "x", "positive": [], "negative": [2]},
                 {"name": "x", "labels": ["a", "b"], "classes": ["c", "d"]}):
        answer = http(web.url, "/api/directions", method="POST", json_body=body)
        assert answer.status == 400, body
    assert http(web.url, "/api/directions", method="POST", json_body={"name": "x", "labels": ["nolabel", "red"]}).status == 404
    assert web.client.list_directions() == []


def test_page_files_and_security_headers(web):
    page = http(web.url, "/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    html = page.body.decode()
    assert "http://" not in html and "https://" not in html  # nothing from elsewhere
    for asset, kind in (("/static/app.js", "text/javascript"), ("/static/style.css", "text/css")):
        answer = http(web.url, asset)
        assert answer.status == 200 and answer.headers["content-type"].startswith(kind)
        assert b"http://" not in answer.body and b"https://" not in answer.body
    assert "content-security-policy" in http(web.url, "/api/info").headers


def test_a_server_that_is_down_is_503(web):
    from latentspace.web import Gateway, GatewayConfig

    with Gateway(GatewayConfig(server="127.0.0.1:1", port=0, timeout=2.0)) as gateway:
        answer = http(gateway.url, "/api/search?id=1")
        assert answer.status == 503 and "127.0.0.1:1" in answer.json()["error"]
        assert gateway.config.host == "127.0.0.1"
