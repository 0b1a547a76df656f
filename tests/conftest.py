"""Session-wide fixtures: the real Elasticsearch node that storage tests run against.

Run in parallel (``pytest -n 2``, as ``make test`` does), the controlling process launches one
node before the workers start and hands them its address; each worker waits for it when a test
first needs it. Run alone, the session starts its own node on first use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.utils.elasticsearch import Node, NodeError, wait_for

URL_VARIABLE = "LIAOWANG_TEST_ES_URL"
SHARED_LOG_VARIABLE = "LIAOWANG_TEST_ES_LOG"
ERROR_VARIABLE = "LIAOWANG_TEST_ES_ERROR"
SHARED_START_TIMEOUT_S = 240.0


def pytest_configure(config: pytest.Config) -> None:
    controls_workers = getattr(config.option, "numprocesses", None) and \
        not hasattr(config, "workerinput")
    if not controls_workers or os.environ.get(URL_VARIABLE):
        return
    try:
        node = Node().launch()
    except NodeError as exc:   # the tests that need it fail with the reason
        os.environ[ERROR_VARIABLE] = str(exc)
        return
    config.stash[_NODE] = node
    os.environ[URL_VARIABLE], os.environ[SHARED_LOG_VARIABLE] = node.url, str(node.log)


def pytest_unconfigure(config: pytest.Config) -> None:
    node = config.stash.get(_NODE, None)
    if node is not None:
        node.stop()


_NODE = pytest.StashKey[Node]()


@pytest.fixture(scope="session")
def elasticsearch_node() -> Iterator[Node | None]:
    """The session's own Elasticsearch node, started when a test needs it; None when
    ``LIAOWANG_TEST_ES_URL`` names a node started elsewhere (by the controlling process of a
    parallel run, or by hand while developing).
    A node that cannot start fails the tests that need it, with the reason: never a skip."""
    if os.environ.get(ERROR_VARIABLE):
        pytest.fail(f"no Elasticsearch for the tests: {os.environ[ERROR_VARIABLE]}",
                    pytrace=False)
    if os.environ.get(URL_VARIABLE):
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
    if elasticsearch_node is not None:
        return elasticsearch_node.url
    url = os.environ[URL_VARIABLE]
    if not wait_for(url, SHARED_START_TIMEOUT_S):
        pytest.fail(f"no Elasticsearch for the tests at {url}: {_shared_log_tail()}",
                    pytrace=False)
    return url


def _shared_log_tail(lines: int = 30) -> str:
    where = os.environ.get(SHARED_LOG_VARIABLE, "")
    try:
        return "\n".join(open(where, errors="replace").read().splitlines()[-lines:])
    except OSError:
        return where or "(no log)"
