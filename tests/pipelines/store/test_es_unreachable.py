"""An Elasticsearch store whose cluster is down answers its next callers at once.

The "cluster" is a real loopback listener that accepts each connection and closes it without
a word, so every request fails as it does against a node that went away; it counts the
connections, which are the store's attempts.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from pipelines.store.base import StoreUnavailable
from pipelines.store.elasticsearch import ElasticsearchStore


class HangUp:
    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()


@pytest.fixture
def hang_up() -> Iterator[HangUp]:
    listener = HangUp()
    yield listener
    listener.server.close()


def test_after_a_call_failed_every_attempt_the_next_one_is_tried_once(hang_up) -> None:
    store = ElasticsearchStore(f"http://127.0.0.1:{hang_up.port}", retries=3, backoff_s=0.01)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.get_asset("10.0.0.1")
    assert hang_up.connections == 4
    with pytest.raises(StoreUnavailable):
        store.get_asset("10.0.0.1")
    assert hang_up.connections == 5
    store.close()
