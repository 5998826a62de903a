"""Client results as plain JSON-ready dicts: the one rendering the CLI's ``--json`` and the web API share.

Pure functions of the client's models (no I/O, no gRPC), so ``latentspace search --id 3 --json`` and
``GET /api/search?id=3`` cannot drift apart: both print what these return.
"""

from __future__ import annotations

from dataclasses import asdict

__all__ = [
    "added_json",
    "combine_json",
    "direction_json",
    "discover_json",
    "groups_json",
    "directions_json",
    "hits_json",
    "info_json",
    "item_json",
    "path_json",
    "search_json",
]


def hits_json(result) -> list[dict]:
    """``[{"id", "score", "path", "label"}, ...]`` of a SearchResult, best first."""
    return [{"id": h.id, "score": h.score, "path": h.path, "label": h.label} for h in result.hits]


def groups_json(result) -> list[dict]:
    """``[{"label", "hits": [...]}, ...]`` of a grouped SearchResult, best label first."""
    return [{"label": g.label, "hits": hits_json(g)} for g in result.groups]


def search_json(result) -> dict:
    """What ``latentspace search --json`` prints (with ``groups`` when the search asked for them)."""
    out = {"hits": hits_json(result)}
    if result.groups:
        out["groups"] = groups_json(result)
    return out


def combine_json(result, method: str) -> dict:
    """What ``latentspace analogy --json`` prints."""
    out = {"method": method, "metric": result.metric, "hits": hits_json(result)}
    if result.groups:
        out["groups"] = groups_json(result)
    return out


def discover_json(result) -> dict:
    """What ``latentspace discover --json`` prints."""
    out = {"metric": result.metric, "hits": hits_json(result)}
    if result.groups:
        out["groups"] = groups_json(result)
    return out


def path_json(result, key: str) -> dict:
    """What ``latentspace shift --json`` (``key="alpha"``) and ``walk --json`` (``key="t"``) print."""
    metric = result[0].result.metric if len(result) else ""
    return {"metric": metric, "steps": [{key: s.position, "hits": hits_json(s.result)} for s in result]}


def direction_json(direction) -> dict:
    """A Direction without its vector, as ``latentspace direction show --json`` prints it."""
    d = direction
    out = {"name": d.name, "kind": d.kind, "description": d.description, "created_at": d.created_at,
           "dimension": d.dimension, "norm": d.norm}
    if d.accuracy is not None:
        out["accuracy"] = d.accuracy
    return out


def directions_json(directions) -> dict:
    """What ``latentspace direction list --json`` prints."""
    return {"directions": [direction_json(d) for d in directions]}


def info_json(info) -> dict:
    """What ``latentspace info --json`` prints (an IndexInfo as nested dicts)."""
    return asdict(info)


def added_json(items) -> dict:
    """What ``latentspace add --json`` prints."""
    return {"items": [{"id": i.id, "path": i.path, "label": i.label, "stored_file": i.stored_file} for i in items]}


def item_json(item) -> dict:
    """One stored Item's metadata, without its vector."""
    return {"id": item.id, "path": item.path, "label": item.label, "sha256": item.sha256, "width": item.width,
            "height": item.height, "stored_file": item.stored_file}
