"""The ``store`` fixture: every contract test runs once per backend, on a real, empty store.

A backend is a name in :data:`OPENERS` and a function that opens an empty store private to one
test (``tmp_path`` is unique per test). A backend that needs a server (Elasticsearch) adds its
opener here and skips when none is configured; its ``write`` must make the batch searchable
before it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.store import open_store
from pipelines.store.base import Event, Store
from tests.utils.events import corpus


def _sqlite(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'events.db'}")


OPENERS: dict[str, Callable[[Path], Store]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(OPENERS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with OPENERS[request.param](tmp_path) as store:
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
