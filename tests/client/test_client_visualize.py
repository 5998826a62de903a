"""Visualize through the client, against real servers: with ``Client`` and with ``AsyncClient``
(the ``connect`` fixture). The index is the small one of untrained AlexNet weights, so the
pictures mean nothing; what is checked is the stream, the cache and the errors. Steps and sizes
are tiny."""

from __future__ import annotations

import numpy as np
import pytest

from support.pictures import decode

TINY = {"steps": 6, "size": 64}


def test_progress_then_a_png_and_the_same_request_again_from_the_cache(fresh):
    running, client = fresh
    seen = []
    made = client.visualize("tabby", seed=3, progress=seen.append, **TINY)
    assert [p.step for p in seen] == list(range(1, 7)) and {p.steps for p in seen} == {6}
    assert not made.cached and made.model == "alexnet" and made.description == "class 'tabby' (281)"
    assert (made.steps, made.size, made.seed) == (6, 64, 3)
    assert made.value == pytest.approx(seen[-1].value)
    assert made.png.startswith(b"\x89PNG\r\n\x1a\n") and decode(made.png).size == (64, 64)
    cache = running.engine.store.directory / "featurevis"
    assert len(list(cache.glob("*.png"))) == 1 and len(list(cache.glob("*.json"))) == 1

    again = []
    second = client.visualize(281, seed=3, progress=again.append, **TINY)  # the class by index: the same objective
    assert second.cached and second.pictures == made.pictures and again == []
    assert second.value == pytest.approx(made.value)

    # a stored direction and a stored item's vector are objectives too
    dim = client.info().dimension
    client.create_direction("ones", vector=np.ones(dim, dtype=np.float32))
    by_direction = client.visualize(direction="ones", steps=2, size=64)
    item = [*client.iter_items()][0]
    by_item = client.visualize(item_id=item.id, steps=2, size=64, count=2)
    assert by_direction.description == "direction 'ones' at fc7" and decode(by_direction.png).size == (64, 64)
    assert len(by_item.pictures) == 2 and by_item.description == f"direction of item {item.id} at fc7"
    assert len(list(cache.glob("*.png"))) == 1 + 1 + 2


BAD = {
    "unknown-layer": ({"layer": "conv9", "unit": 0}, "NotFound", "conv1, conv2, conv3, conv4, conv5, fc6, fc7"),
    "unit-out-of-range": ({"layer": "conv5", "unit": 256}, "InvalidArgument", "units 0..255, not 256"),
    "unknown-class": ({"class_name": "taby"}, "NotFound", "close matches: 'tabby'"),
    "class-index-out-of-range": ({"class_name": 1000}, "InvalidArgument", "0..999"),
    "unknown-direction": ({"direction": "nope"}, "NotFound", "no direction named 'nope'"),
    "unknown-item": ({"item_id": 10**6}, "NotFound", "no item with id 1000000; the index holds 12 items"),
    "too-many-steps": ({"class_name": "tabby", "steps": 5000}, "InvalidArgument", "steps must be 1..1024"),
    "negative-steps": ({"class_name": "tabby", "steps": -1}, "InvalidArgument", "steps must be 1..1024"),
    # AlexNet's pools leave nothing of an image under 63 pixels
    "too-small": ({"class_name": "tabby", "size": 40}, "InvalidArgument", "size must be 63..512 pixels for alexnet"),
    "too-large": ({"class_name": "tabby", "size": 4096}, "InvalidArgument", "size must be 63..512 pixels"),
    "too-many-images": ({"class_name": "tabby", "count": 99}, "InvalidArgument", "count must be 1..8"),
}


def test_bad_objectives_and_parameters_name_what_is_valid(any_client):
    import latentspace.client as errors

    for name, (request, error, words) in BAD.items():
        with pytest.raises(getattr(errors, error)) as caught:
            any_client.visualize(**request)
        assert words in caught.value.message, (name, caught.value.message)
    with pytest.raises(ValueError, match="exactly one objective"):  # refused before anything is sent
        any_client.visualize("tabby", layer="conv5", unit=1)
    limits = any_client.info().limits
    assert (limits.max_visualize_steps, limits.max_visualize_size, limits.max_visualize_count,
            limits.max_concurrent_visualizations) == (1024, 512, 8, 1)
