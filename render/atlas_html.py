"""The atlas as one self-contained HTML page: pictures as data URIs, zoom and pan, hover for details.

The page needs no other file and no network: each cell's thumbnail is an inline JPEG, placed
where :func:`latentspace.render.atlas.render_atlas` would draw it. The mouse wheel zooms about
the pointer, dragging pans, ``0`` resets; hovering a picture shows its label, id and path.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from latentspace.render.atlas import EMPTY, AtlasGrid

__all__ = ["AtlasEntry", "atlas_html"]


@dataclass(frozen=True)
class AtlasEntry:
    """What one non-empty cell shows."""

    image: Image.Image
    label: str
    path: str
    item_id: int


def data_uri(image: Image.Image, *, quality: int = 82) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


_STYLE = """
html, body { margin: 0; height: 100%; background: #111; color: #eee; font: 14px system-ui, sans-serif; overflow: hidden; }
#bar { position: fixed; top: 0; left: 0; right: 0; padding: 6px 10px; background: rgba(0,0,0,.75); z-index: 2; }
#bar span { color: #aaa; margin-left: 1em; }
#view { position: absolute; inset: 0; cursor: grab; }
#view.dragging { cursor: grabbing; }
#map { position: absolute; left: 0; top: 0; transform-origin: 0 0; background: EMPTY_COLOUR; }
#map img { position: absolute; display: block; image-rendering: auto; }
#map img:hover { outline: 2px solid #ffcc33; z-index: 1; }
#tip { position: fixed; display: none; pointer-events: none; padding: 4px 7px; max-width: 60ch;
       background: rgba(0,0,0,.85); border: 1px solid #555; border-radius: 3px; z-index: 3; word-break: break-all; }
#tip b { color: #ffcc33; }
"""

_SCRIPT = """
(function () {
  const view = document.getElementById('view'), map = document.getElementById('map'), tip = document.getElementById('tip');
  const W = map.offsetWidth, H = map.offsetHeight;
  let s = 1, x = 0, y = 0, drag = null;
  function apply() { map.style.transform = `translate(${x}px, ${y}px) scale(${s})`; }
  function fit() {
    s = Math.min(view.clientWidth / W, (view.clientHeight - 34) / H);
    x = (view.clientWidth - W * s) / 2; y = 34 + (view.clientHeight - 34 - H * s) / 2; apply();
  }
  view.addEventListener('wheel', e => {
    e.preventDefault();
    const k = Math.exp(-e.deltaY * 0.0015), ns = Math.min(Math.max(s * k, 0.05), 40);
    x = e.clientX - (e.clientX - x) * ns / s; y = e.clientY - (e.clientY - y) * ns / s; s = ns; apply();
  }, { passive: false });
  view.addEventListener('mousedown', e => { drag = [e.clientX - x, e.clientY - y]; view.classList.add('dragging'); });
  window.addEventListener('mouseup', () => { drag = null; view.classList.remove('dragging'); });
  window.addEventListener('mousemove', e => {
    if (drag) { x = e.clientX - drag[0]; y = e.clientY - drag[1]; apply(); }
    const t = e.target;
    if (t.tagName === 'IMG' && t.dataset.path !== undefined) {
      tip.innerHTML = '';
      const b = document.createElement('b'); b.textContent = t.dataset.label || '(no label)';
      tip.append(b, ' #' + t.dataset.id, document.createElement('br'), t.dataset.path);
      tip.style.display = 'block';
      tip.style.left = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 4) + 'px';
      tip.style.top = Math.min(e.clientY + 14, window.innerHeight - tip.offsetHeight - 4) + 'px';
    } else { tip.style.display = 'none'; }
  });
  window.addEventListener('keydown', e => {
    if (e.key === '0') fit();
    if (e.key === '+' || e.key === '=') { s *= 1.25; apply(); }
    if (e.key === '-') { s /= 1.25; apply(); }
  });
  window.addEventListener('resize', fit);
  fit();
})();
"""


def atlas_html(
    layout: AtlasGrid, entries: Sequence[AtlasEntry], *, tile: int = 64, gap: int = 1, title: str = "latentspace atlas"
) -> str:
    """The page for ``layout``; ``entries[i]`` is what ``layout.cells[i]`` shows, ``tile - gap`` pixels square."""
    if len(entries) != len(layout.cells):
        raise ValueError(f"{len(layout.cells)} cells but {len(entries)} entries")
    width, height = layout.columns * tile, layout.rows * tile
    images = []
    for cell, entry in zip(layout.cells, entries):
        images.append(
            f'<img src="{data_uri(entry.image)}" width="{tile - gap}" height="{tile - gap}" '
            f'style="left:{cell.column * tile}px;top:{cell.row * tile}px" '
            f'alt="{html.escape(entry.label)}" data-id="{entry.item_id}" '
            f'data-label="{html.escape(entry.label)}" data-path="{html.escape(entry.path)}">'
        )
    hint = f"{len(entries):,} cells · wheel to zoom, drag to pan, 0 to fit, hover for label and path"
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            "<style>" + _STYLE.replace("EMPTY_COLOUR", "rgb(%d,%d,%d)" % EMPTY) + "</style></head><body>",
            f'<div id="bar"><b>{html.escape(title)}</b><span>{html.escape(hint)}</span></div>',
            f'<div id="view"><div id="map" style="width:{width}px;height:{height}px">',
            *images,
            "</div></div>",
            '<div id="tip"></div>',
            f"<script>{_SCRIPT}</script>",
            "</body></html>",
            "",
        ]
    )
