"""Session-wide fixtures: the real Elasticsearch node that storage tests run against."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.utils.elasticsearch import Node, NodeError


@pytest.fixture(scope="session")
def elasticsearch_node() -> Iterator[Node | None]:
    """The session's own Elasticsearch node, started when a test needs it; None when
    ``LIAOWANG_TEST_ES_URL`` names an already running node instead (while developing).
    A node that cannot start fails the tests that need it, with the reason: never a skip."""
    if os.environ.get("LIAOWANG_TEST_ES_URL"):
        yield None
        return
    try:
        node = Node().start()
    except NodeError as exc:
        pytest.fail(f"no Elasticsearch for the tests: {exc}", pytrace=False)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def elasticsearch_url(elasticsearch_node: Node | None) -> str:
    """The URL of a real Elasticsearch node (see ``elasticsearch_node``)."""
    if elasticsearch_node is None:
        return os.environ["LIAOWANG_TEST_ES_URL"]
    return elasticsearch_node.url
