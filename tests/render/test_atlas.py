"""The atlas: grid cells hold the point nearest their centre, the picture shows it there, the page is self-contained."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image
from support.pictures import is_blank, mean_abs_diff

from latentspace.render.atlas import EMPTY, layout_grid, render_atlas
from latentspace.render.atlas_html import AtlasEntry, atlas_html
from latentspace.render.index_pictures import index_atlas
from latentspace.render.projection import pca_basis, project_2d
from latentspace.render.thumbnails import ThumbnailCache, fill_square, fit_into


def test_grid_by_hand():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.1, 0.1], [4.0, 2.0]])
    grid = layout_grid(points, 4)
    # x spans 4 and y spans 2: cells of side 1, four columns, two rows; row 0 is the top (largest y).
    assert (grid.rows, grid.columns, grid.side) == (2, 4, 1.0)
    assert grid.point_cells.tolist() == [[1, 0], [1, 1], [1, 0], [0, 3]]
    # Cell (1, 0) holds points 0 and 2; its centre (0.5, 0.5) is nearer point 2.
    assert [(c.row, c.column, c.point) for c in grid.cells] == [(0, 3, 3), (1, 0, 2), (1, 1, 1)]
    np.testing.assert_allclose(grid.centre(1, 0), [0.5, 0.5])


def test_every_non_empty_cell_shows_its_point_nearest_the_centre():
    rng = np.random.default_rng(3)
    points = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal([6, 2], 0.5, (100, 2))]) * [1.0, 0.7]
    grid = layout_grid(points, 10)
    assert grid.columns == 10 and 1 <= grid.rows <= 10
    cells = {(c.row, c.column): c.point for c in grid.cells}
    occupied = {tuple(rc) for rc in grid.point_cells.tolist()}
    assert set(cells) == occupied and len(cells) == len(grid.cells)
    for (row, column), chosen in cells.items():
        members = np.flatnonzero((grid.point_cells[:, 0] == row) & (grid.point_cells[:, 1] == column))
        distances = np.linalg.norm(points[members] - grid.centre(row, column), axis=1)
        assert chosen == members[np.argmin(distances)]
        x0, y0 = grid.origin[0] + column * grid.side, grid.origin[1] - row * grid.side
        inside = (points[members, 0] >= x0 - 1e-9) & (points[members, 0] <= x0 + grid.side + 1e-9)
        inside &= (points[members, 1] <= y0 + 1e-9) & (points[members, 1] >= y0 - grid.side - 1e-9)
        assert inside.all()


def test_identical_points_fill_one_cell():
    grid = layout_grid(np.ones((5, 2)), 8)
    assert (grid.rows, grid.columns) == (1, 1) and [c.point for c in grid.cells] == [0]


def test_pca_projection_is_the_top_two_principal_components():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(200, 6)) * [10, 5, 1, 1, 1, 1]
    points = project_2d(data, method="pca", normalise=False)
    centred = data - data.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    for axis in range(2):
        assert abs(np.corrcoef(points[:, axis], centred @ vt[axis])[0, 1]) > 0.9999
    mean, components = pca_basis(data, 2)
    np.testing.assert_allclose(np.abs(components @ components.T), np.eye(2), atol=1e-5)


def test_atlas_picture_has_each_cell_nearest_items_thumbnail(store, all_items):
    cache = ThumbnailCache(store.directory)
    atlas = index_atlas(store, cache, grid=5, tile=32, method="pca")
    layout = atlas.layout
    assert atlas.image.size == (layout.columns * 32, layout.rows * 32)
    assert len(atlas.points) == len(all_items) == len(atlas.ids)
    drawn = {(c.row, c.column): c for c in layout.cells}
    for row in range(layout.rows):
        for column in range(layout.columns):
            tile = atlas.image.crop((column * 32, row * 32, (column + 1) * 32, (row + 1) * 32))
            cell = drawn.get((row, column))
            if cell is None:
                assert is_blank(tile, EMPTY)
                continue
            members = np.flatnonzero((layout.point_cells == [row, column]).all(axis=1))
            nearest = members[np.argmin(np.linalg.norm(atlas.points[members] - layout.centre(row, column), axis=1))]
            item = all_items[int(atlas.ids[nearest])]
            # The picture fills 31 × 31 pixels; the last row and column are the dark gap.
            expected = fill_square(cache.thumbnail(item), item.width, item.height, 128).resize((31, 31), Image.Resampling.LANCZOS)
            assert mean_abs_diff(tile.crop((0, 0, 31, 31)), expected) == 0
            assert is_blank(tile.crop((31, 0, 32, 32)), EMPTY) and is_blank(tile.crop((0, 31, 32, 32)), EMPTY)
    assert (store.directory / "thumbnails").is_dir()
    assert [e.item_id for e in atlas.entries] == [int(atlas.ids[c.point]) for c in layout.cells]


def test_html_page_is_self_contained_with_labels_paths_and_positions(store, all_items):
    atlas = index_atlas(store, ThumbnailCache(store.directory), grid=4, tile=40, method="pca")
    page = atlas.html(title="tiny <atlas>")
    images = re.findall(r'<img src="data:image/jpeg;base64,([^"]+)"[^>]*style="left:(\d+)px;top:(\d+)px"[^>]*'
                        r'data-id="(\d+)" data-label="([^"]*)" data-path="([^"]*)">', page)
    assert len(images) == len(atlas.layout.cells)
    for (data, left, top, item_id, label, path), cell in zip(images, atlas.layout.cells):
        assert (int(left), int(top)) == (cell.column * 40, cell.row * 40)
        item = all_items[int(item_id)]
        assert label == item.label and path == item.path
        assert Image.open(io.BytesIO(base64.b64decode(data))).size == (128, 128)
    assert page.count('width="39" height="39"') == len(images)
    assert "tiny &lt;atlas&gt;" in page and "<atlas>" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "nothing is fetched from elsewhere"
    assert "wheel" in page and "<script>" in page


def test_html_escapes_labels_and_paths():
    grid = layout_grid(np.array([[0.0, 0.0], [1.0, 1.0]]), 2)
    entries = [AtlasEntry(Image.new("RGB", (8, 8)), 'a "b" <c>', "/x/&y.jpg", i) for i in range(2)]
    page = atlas_html(grid, entries, tile=10)
    assert 'data-label="a &quot;b&quot; &lt;c&gt;"' in page and 'data-path="/x/&amp;y.jpg"' in page
    with pytest.raises(ValueError):
        atlas_html(grid, entries[:1])


def test_render_atlas_letterboxes_pictures_of_the_wrong_size():
    grid = layout_grid(np.array([[0.0, 0.0], [1.0, 1.0]]), 2)
    image = render_atlas(grid, lambda point, side: Image.new("RGB", (20, 10), (200, 0, 0)), tile=16, gap=0)
    assert image.size == (32, 32)
    assert mean_abs_diff(image.crop((0, 16, 16, 32)), fit_into(Image.new("RGB", (20, 10), (200, 0, 0)), 16)) == 0


def test_fill_square_takes_the_centre_of_the_picture_not_the_letterbox():
    picture = Image.new("RGB", (300, 100), (0, 0, 255))
    picture.paste(Image.new("RGB", (100, 100), (255, 0, 0)), (100, 0))  # blue | red | blue
    square = fill_square(fit_into(picture), 300, 100, 30)
    assert square.size == (30, 30)
    centre = np.asarray(square)[2:-2, 2:-2].reshape(-1, 3)
    assert (centre[:, 0] > 200).all() and (centre[:, 2] < 60).all(), "only the red middle third, no grey bars"


@pytest.mark.slow
def test_umap_keeps_clusters_apart_and_places_unsampled_points_with_their_cluster():
    """UMAP fitted on a sample, the rest transformed: every point lands among its own cluster (slow: numba compiles)."""
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 1, (3, 64)) * 4
    labels = np.repeat(np.arange(3), 40)
    vectors = (centres[labels] + rng.normal(0, 1, (120, 64))).astype(np.float32)
    points = project_2d(vectors, method="umap", normalise=False, sample=60, seed=0)
    assert points.shape == (120, 2) and np.isfinite(points).all()
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    neighbours = np.argsort(distances, axis=1)[:, :5]
    assert (labels[neighbours] == labels[:, None]).mean() > 0.95


def test_atlas_of_a_larger_index_projects_a_seeded_sample(store, all_items):
    cache = ThumbnailCache(store.directory)
    atlas = index_atlas(store, cache, grid=3, tile=16, method="pca", max_points=5, seed=2)
    again = index_atlas(store, cache, grid=3, tile=16, method="pca", max_points=5, seed=2)
    assert len(atlas.ids) == len(atlas.points) == 5 < len(all_items)
    assert atlas.ids.tolist() == again.ids.tolist() == sorted(atlas.ids.tolist())
    assert set(atlas.ids.tolist()) <= set(all_items)
    expected = project_2d(store.vectors(atlas.ids), method="pca", normalise=store.metric == "cosine")
    np.testing.assert_allclose(atlas.points, expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="max_points must be at least 1"):
        index_atlas(store, cache, grid=3, max_points=0)
