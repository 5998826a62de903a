"""Property: requests built from arbitrary values never crash the engine and never change what is
stored unless they are valid adds.

Hypothesis (derandomized, bounded) builds queries, search options, batches and images to add from
the values the wire can carry (int64 ids, int32 k, float32 components, any UTF-8 text, any bytes),
and calls :class:`SearchEngine` directly, without gRPC. Every call must either answer sensibly or
raise one of the core errors that the servicer maps to a status; a refused call leaves the items
exactly as they were.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.photos import photo_bytes

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
DIM = 4096
INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)
FLOAT32 = st.floats(width=32, allow_nan=True, allow_infinity=True)
IMAGES = [photo_bytes(800 + i, fmt=fmt) for i, fmt in enumerate(("PNG", "JPEG", "GIF"))]


def _valid_image(index: int) -> bytes:
    return IMAGES[index]


A_VALID_IMAGE = st.integers(0, len(IMAGES) - 1).map(_valid_image)  # a strategy's repr shows its values: keep it short


@pytest.fixture(scope="module")
def engine(shared_index, random_embedder):
    from latentspace.indexer import IndexStore
    from latentspace.server.search.engine import SearchEngine

    from support.servers import server_config

    store = IndexStore.open(shared_index)
    engine = SearchEngine(store, random_embedder, server_config(max_k=50, max_batch_queries=4, max_add_images=3,
                                                                max_ids=20))
    yield engine
    engine.close(timeout=5)


@st.composite
def _vectors(draw) -> np.ndarray:
    if draw(st.booleans()):
        return np.asarray(draw(st.lists(FLOAT32, max_size=8)), dtype=np.float32)
    vector = np.full(DIM, draw(FLOAT32), dtype=np.float32)
    for _ in range(draw(st.integers(0, 3))):
        vector[draw(st.integers(0, DIM - 1))] = draw(FLOAT32)
    return vector


def _queries(ids: list[int]):
    from latentspace.server.search.queries import ImageQuery, ItemQuery, VectorQuery

    return st.one_of(
        st.builds(ImageQuery, st.one_of(st.binary(max_size=300), A_VALID_IMAGE)),
        st.builds(ItemQuery, st.one_of(INT64, st.sampled_from(ids))),
        st.builds(VectorQuery, _vectors()),
    )


def _options():
    from latentspace.server.search.queries import SearchOptions

    labels = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(["red", "green", "blue"])), max_size=4)
    return st.builds(SearchOptions, k=st.one_of(st.integers(1, 50), st.integers(-2, 60), INT32),
                     include_self=st.booleans(), labels=st.one_of(st.just(()), labels.map(tuple)))


def _stored(engine) -> tuple[int, list[int]]:
    ids, _ = engine.store.snapshot()
    return len(engine.store), ids.tolist()


def test_searches_from_arbitrary_values(engine):
    from latentspace.server.errors import ServiceError
    from latentspace.server.errors import InvalidQuery as QueryError

    ids = _stored(engine)[1]
    before = _stored(engine)
    answered = []

    @FUZZ
    @given(queries=st.one_of(st.lists(_queries(ids), min_size=1, max_size=2), st.lists(_queries(ids), max_size=6)),
           options=_options())
    def check(queries, options):
        try:
            results = engine.batch_search(queries, options)
        except (ServiceError, QueryError) as exc:
            assert str(exc)
        else:
            answered.append(len(results))
            assert 1 <= len(queries) <= 4 and 1 <= options.k <= 50
            assert len(results) == len(queries)
            for result in results:
                assert len(result.hits) <= options.k
                assert all(h.id in ids for h in result.hits)
                assert not options.labels or all(h.label in options.labels for h in result.hits)
        assert _stored(engine) == before

    check()
    assert len(answered) >= 10, "the strategies hardly ever build a valid search"


def test_adds_from_arbitrary_values(engine):
    from latentspace.server.errors import ServiceError
    from latentspace.server.search.queries import ImageToAdd

    texts = st.one_of(st.from_regex(r"[a-z0-9_ .-]{0,12}(/[a-z0-9_ .-]{1,12}){0,2}", fullmatch=True),
                      st.text(max_size=40),
                      st.sampled_from(["../up.png", "/abs.png", "C:\\x", "ok/dir/a.png", "", "a\u2028b", "tab\tbed"]))
    images = st.builds(ImageToAdd, data=st.one_of(A_VALID_IMAGE, st.binary(max_size=200)), path=texts,
                       label=st.one_of(st.just(""), st.text(max_size=20)))

    accepted = []

    @FUZZ
    @given(st.one_of(st.lists(images, min_size=1, max_size=2), st.lists(images, max_size=4)))
    def check(new):
        before = _stored(engine)
        try:
            added = engine.add_images(new)
        except ServiceError as exc:
            assert str(exc)
            assert _stored(engine) == before, "a refused add changed the store"
            return
        accepted.append(len(added))
        assert len(added) == len(new) and _stored(engine)[0] == before[0] + len(new)
        for item, image in zip(added, new):
            assert (item.path, item.label) == (image.path or item.stored_file, image.label)
            assert item.stored_file.startswith("images/") and "/" not in item.stored_file[len("images/"):]
            assert (engine.store.directory / item.stored_file).read_bytes() == image.data
        engine.remove([item.id for item in added])
        assert _stored(engine) == before

    check()
    assert len(accepted) >= 10, "the strategies hardly ever build a valid add"


def test_item_lookups_from_arbitrary_values(engine):
    from latentspace.server.errors import ServiceError

    before = _stored(engine)

    @FUZZ
    @given(ids=st.lists(st.one_of(INT64, st.sampled_from(before[1])), max_size=25), with_vectors=st.booleans(),
           after=INT64, limit=INT32)
    def check(ids, with_vectors, after, limit):
        try:
            items, vectors = engine.get_items(ids, with_vectors=with_vectors)
            assert [i.id for i in items] == ids and (vectors is None) != with_vectors
        except ServiceError as exc:
            assert str(exc)
        try:
            page, _ = engine.list_items(after_id=after, limit=limit)
            assert all(item.id > after for item in page) and len(page) <= limit
        except ServiceError as exc:
            assert str(exc)
        assert _stored(engine) == before

    check()


def test_the_images_really_are_valid():
    from latentspace.indexer import decode_image

    for data in IMAGES:
        assert decode_image(data).image.mode == "RGB"
