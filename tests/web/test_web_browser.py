"""The page in a real browser (Debian's chromium, headless) against a real server and gateway on 127.0.0.1.

Each test opens a fresh page; assertions read the DOM the page built from the gateway's answers,
compared with what the client library says, and, for thumbnails, the pixels the browser drew.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from support.browser import browser_context, decode_png
from support.web import http

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def context():
    with browser_context() as ctx:
        yield ctx


@pytest.fixture
def page(context, web):
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems
    yield page
    page.close()


def grid_ids(page, container: str = "#search-results") -> list[int]:
    return [int(x) for x in page.locator(f"{container} .tile").evaluate_all("els => els.map(e => e.dataset.id)")]


def wait_for_grid(page, expected: list[int], container: str = "#search-results") -> None:
    page.wait_for_function(
        "([sel, ids]) => JSON.stringify([...document.querySelectorAll(sel + ' .tile')].map(e => +e.dataset.id)) "
        "=== JSON.stringify(ids)", arg=[container, expected])


def item_id_of(web, name: str) -> int:
    return next(item.id for item in web.client.iter_items() if Path(item.path).name == name)


def test_upload_shows_the_photo_as_first_result(page, web):
    page.goto(web.url)
    photo = web.corpus / "green" / "green_1.png"
    page.set_input_files("#file", str(photo))
    expected = web.client.search(photo.read_bytes(), k=10).ids
    wait_for_grid(page, expected)
    assert expected[0] == item_id_of(web, "green_1.png")
    assert page.locator("#chips .chip.positive").first.inner_text().strip().startswith("+ uploaded image")
    assert "upload=1" in page.url
    other = web.corpus / "blue" / "blue_3.png"  # dropped on the page this time
    page.evaluate("""bytes => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], "dropped.png", { type: "image/png" }));
        document.getElementById("drop").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
    }""", list(other.read_bytes()))
    wait_for_grid(page, web.client.search(other.read_bytes(), k=10).ids)
    assert page.problems == []


def test_click_second_result_searches_from_it_and_back_restores(page, web):
    first = item_id_of(web, "red_0.jpg")
    page.goto(f"{web.url}?id={first}")
    before = web.client.search(item_id=first, k=10).ids
    wait_for_grid(page, before)
    second = before[1]
    page.locator("#search-results .tile").nth(1).locator("button.pick").click()
    page.wait_for_url(re.compile(rf"\?id={second}$"))
    wait_for_grid(page, web.client.search(item_id=second, k=10).ids)
    page.go_back()
    page.wait_for_url(re.compile(rf"\?id={first}$"))
    wait_for_grid(page, before)
    page.reload()
    wait_for_grid(page, before)


def test_less_like_this_removes_the_result_and_its_chip_brings_it_back(page, web):
    start = item_id_of(web, "blue_0.jpg")
    page.goto(f"{web.url}?id={start}&k=6")
    shown = web.client.search(item_id=start, k=6).ids
    wait_for_grid(page, shown)
    unwanted = shown[0]
    page.locator(f'#search-results .tile[data-id="{unwanted}"] button.less').click()
    page.wait_for_url(re.compile(rf"n={unwanted}"))
    expected = web.client.combine([start], [unwanted], method="average", k=6).ids
    wait_for_grid(page, expected)
    assert unwanted not in expected
    chip = page.locator(f'#chips .chip.negative[data-id="{unwanted}"]')
    assert chip.inner_text().startswith(f"− #{unwanted}")
    chip.locator("button").click()
    wait_for_grid(page, shown)
    assert page.locator("#chips .chip").count() == 1


def test_more_like_this_adds_a_positive_term(page, web):
    start = item_id_of(web, "red_1.png")
    page.goto(f"{web.url}?id={start}&k=5")
    shown = web.client.search(item_id=start, k=5).ids
    wait_for_grid(page, shown)
    page.locator(f'#search-results .tile[data-id="{shown[2]}"] button.more').click()
    wait_for_grid(page, web.client.combine([start, shown[2]], [], method="average", k=5).ids)
    page.select_option("#search-method", "best_score")
    wait_for_grid(page, web.client.combine([start, shown[2]], [], method="best_score", k=5).ids)
    assert "method=best_score" in page.url


def test_walk_shows_one_row_per_step(page, web):
    a, b = item_id_of(web, "red_0.jpg"), item_id_of(web, "blue_3.png")
    page.goto(f"{web.url}?view=walk")
    page.fill("#walk-a", str(a))
    page.fill("#walk-b", str(b))
    page.fill("#walk-steps", "5")
    page.fill("#walk-k", "3")
    page.click("#walk-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#walk-strip .step-row').length === 5")
    walked = web.client.walk(a, b, steps=5, k=3, include_ends=True)
    for row, step in enumerate(walked):
        assert grid_ids(page, f"#walk-strip .step-row:nth-child({row + 1})") == step.ids


def test_a_non_image_upload_shows_the_error(page, web):
    page.goto(web.url)
    page.set_input_files("#file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"just some words"}])
    error = page.locator("#error")
    error.wait_for(state="visible")
    assert "not an image" in error.inner_text()


def test_unknown_id_and_server_errors_are_readable(page, web):
    page.goto(f"{web.url}?id=987654")
    page.locator("#error").wait_for(state="visible")
    assert "no item with id 987654" in page.locator("#error").inner_text()


def test_a_tile_shows_the_right_thumbnail(page, web):
    start = item_id_of(web, "green_0.jpg")
    page.goto(f"{web.url}?id={start}&k=4")
    shown = web.client.search(item_id=start, k=4).ids
    wait_for_grid(page, shown)
    ids = [item.id for item in web.client.iter_items()]
    truth = {i: np.asarray(t.image().resize((32, 32)), dtype=np.float64) for i, t in web.client.thumbnails(ids).items()}
    for hit in shown:
        img = page.locator(f'#search-results .tile[data-id="{hit}"] img')
        img.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
        drawn = np.asarray(decode_png(img.screenshot()).resize((32, 32)), dtype=np.float64)
        errors = {i: float(((drawn - picture) ** 2).mean()) for i, picture in truth.items()}
        assert min(errors, key=errors.get) == hit, errors
        assert errors[hit] < 100.0  # the same picture, scaled by the browser


def test_untrained_banner_info_alt_text_and_keyboard(page, web):
    start = item_id_of(web, "red_2.jpg")
    page.goto(f"{web.url}?id={start}&k=3")
    wait_for_grid(page, web.client.search(item_id=start, k=3).ids)
    assert "untrained weights" in page.locator("#banner").inner_text()
    alts = page.locator("#search-results img").evaluate_all("els => els.map(e => e.alt)")
    assert len(alts) == 3 and all(re.search(r"item \d+$", alt) for alt in alts)
    target = grid_ids(page)[1]
    page.locator("#search-results .tile").nth(1).locator("button.pick").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"\?id={target}$"))
    page.click("nav a[data-view=info]")
    page.locator("#info-list dd").first.wait_for()
    text = page.locator("#info-list").inner_text()
    assert "random:0" in text and "not semantically meaningful" in text


@pytest.mark.parametrize("width", [400, 1600])
def test_layout_fits_narrow_and_wide_windows(page, web, width):
    page.set_viewport_size({"width": width, "height": 900})
    start = item_id_of(web, "red_0.jpg")
    page.goto(f"{web.url}?id={start}")
    wait_for_grid(page, web.client.search(item_id=start, k=10).ids)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    tops = page.locator("#search-results .tile").evaluate_all("els => els.map(e => e.getBoundingClientRect().top)")
    per_row = sum(1 for top in tops if abs(top - tops[0]) < 1)
    assert (2 <= per_row <= 3) if width == 400 else per_row >= 8


def test_directions_shift_and_atlas(page, web):
    page.goto(f"{web.url}?view=directions")
    page.fill("#direction-name", "bluer")
    page.select_option("#direction-kind", "labels")
    page.fill("#direction-a", "blue")
    page.fill("#direction-b", "red")
    page.click("#direction-form button[type=submit]")
    page.locator('#directions-list tr[data-name="bluer"]').wait_for()
    try:
        start = item_id_of(web, "red_3.png")
        page.goto(f"{web.url}?view=shift&id={start}&direction=bluer&alpha=0")
        wait_for_grid(page, web.client.shift(start, direction="bluer", alphas=[0], k=10)[0].ids, "#shift-results")
        page.locator("#shift-alpha").fill("2")
        wait_for_grid(page, web.client.shift(start, direction="bluer", alphas=[2], k=10)[0].ids, "#shift-results")
        assert "alpha=2" in page.url
    finally:
        page.goto(f"{web.url}?view=directions")
        page.locator('#directions-list tr[data-name="bluer"] button').click()
        page.wait_for_function("() => !document.querySelector('#directions-list tr[data-name=\"bluer\"]')")
    assert web.client.list_directions() == []
    page.goto(f"{web.url}?view=atlas&grid=4&projection=pca")
    cells = page.locator("#atlas-map button")
    cells.first.wait_for()
    layout = http(web.url, "/api/atlas?grid=4&projection=pca").json()
    assert cells.count() == len(layout["cells"]) > 1
    cells.first.click()
    page.wait_for_url(re.compile(r"\?id=\d+$"))
    assert page.problems == []
