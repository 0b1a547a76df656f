"""The ``store`` fixture: every contract test runs once per backend, on a real, empty store.

A backend is a name in :data:`OPENERS` and a function that opens an empty store private to one
test: SQLite in the test's ``tmp_path``; Elasticsearch on the session's real node, under an index
prefix of this session, emptied after each test. Writes make the batch searchable before they
return.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from pipelines.store import open_store
from pipelines.store.base import Event, Store
from pipelines.store.elasticsearch import ElasticsearchStore
from tests.utils.events import corpus

ES_PREFIX = f"test-{uuid.uuid4().hex[:12]}"


@contextmanager
def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'events.db'}") as store:
        yield store


@contextmanager
def _elasticsearch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The session's indices, emptied after each test (cheaper than new indices per test)."""
    url = request.getfixturevalue("elasticsearch_url")
    with ElasticsearchStore(url, prefix=ES_PREFIX, refresh=True) as store:
        try:
            yield store
        finally:
            _empty(store)


def _empty(store: ElasticsearchStore) -> None:
    """Delete every document (the minimal distribution has no delete-by-query)."""
    client = store.client
    while hits := client.search(index=f"{ES_PREFIX}-*", size=1000, source=False,
                                allow_no_indices=True)["hits"]["hits"]:
        client.bulk(operations=[{"delete": {"_index": h["_index"], "_id": h["_id"]}}
                                for h in hits], refresh=True)


OPENERS: dict[str, Callable[..., AbstractContextManager[Store]]] = {
    "sqlite": _sqlite, "elasticsearch": _elasticsearch}


@pytest.fixture(params=sorted(OPENERS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with OPENERS[request.param](request, tmp_path) as store:
        yield store


@pytest.fixture
def events() -> dict[str, Event]:
    """The named corpus of :func:`tests.utils.events.corpus`."""
    return corpus()


@pytest.fixture
def filled(store: Store, events: dict[str, Event]) -> Store:
    """The store holding the corpus."""
    store.write(list(events.values()))
    return store
