"""Session-wide fixtures: the real Elasticsearch node that storage tests run against."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.utils.elasticsearch import Node, NodeError


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    """The URL of a real Elasticsearch node, started once per session when a test needs it.
    A node that cannot start fails the tests that need it, with the reason: never a skip.
    ``LIAOWANG_TEST_ES_URL`` names an already running node instead (while developing)."""
    if os.environ.get("LIAOWANG_TEST_ES_URL"):
        yield os.environ["LIAOWANG_TEST_ES_URL"]
        return
    try:
        node = Node().start()
    except NodeError as exc:
        pytest.fail(f"no Elasticsearch for the tests: {exc}", pytrace=False)
    try:
        yield node.url
    finally:
        node.stop()
