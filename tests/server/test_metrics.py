"""``--metrics-port``: Prometheus metrics scraped over HTTP change as calls are made."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from support.photos import photo_bytes


def scrape(address: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample at ``http://address/metrics``: ``{(name, sorted labels): value}``."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        assert response.status == 200
        text = response.read().decode("utf-8")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def metered(start_server, small_index):
    from latentspace.client import Client

    running = start_server(small_index, metrics_port=0)
    with Client(running.address, timeout=30.0) as client:
        yield running, client


def test_metrics_count_calls_errors_latency_and_the_model(metered):
    from latentspace.client import NotFound

    running, client = metered
    assert running.metrics_address is not None and running.metrics_address.startswith("127.0.0.1:")
    before = scrape(running.metrics_address)
    items = value(before, "latentspace_items")
    assert items == 12
    assert value(before, "process_resident_memory_bytes") > 10 << 20

    client.search(item_id=1, k=3)
    client.search(image=photo_bytes(5), k=3)
    with pytest.raises(NotFound):
        client.search(item_id=999_999, k=3)
    after = scrape(running.metrics_address)

    assert value(after, "latentspace_requests_total", method="Search", code="OK") \
        == value(before, "latentspace_requests_total", method="Search", code="OK") + 2
    assert value(after, "latentspace_requests_total", method="Search", code="NOT_FOUND") == 1
    assert value(after, "latentspace_errors_total", method="Search", code="NOT_FOUND") == 1
    assert value(after, "latentspace_errors_total", method="Search", code="OK") == 0
    assert value(after, "latentspace_request_seconds_count", method="Search") == 3
    # every call took less than 30 s, so the +Inf bucket and the 30 s bucket both hold all three
    assert value(after, "latentspace_request_seconds_bucket", method="Search", le="30.0") == 3
    assert value(after, "latentspace_request_seconds_bucket", method="Search", le="+Inf") == 3
    # one forward pass of one image, and index searches of the two successful queries
    assert value(after, "latentspace_forward_batch_images_count") == 1
    assert value(after, "latentspace_forward_batch_images_bucket", le="1.0") == 1
    assert value(after, "latentspace_forward_seconds_sum") > 0
    assert value(after, "latentspace_index_search_seconds_count") == 2
    assert value(after, "latentspace_queue_depth", stage="embed") == 0

    client.add_images([photo_bytes(77)])
    client.remove([1, 2])
    assert value(scrape(running.metrics_address), "latentspace_items") == items + 1 - 2


def test_no_metrics_endpoint_unless_asked(server):
    assert server.metrics_address is None and server.metrics is None
