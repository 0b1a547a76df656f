"""``open_store``: store URLs, and what the SQLite backend does with its file."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from pipelines.store import open_store, sqlite_path
from pipelines.store.base import StoreError, StoreUnavailable
from pipelines.store.sqlite import SQLiteStore
from tests.utils.events import at, modbus_event
from tests.utils.loopback import free_port


@pytest.mark.parametrize(("url", "path"), [
    ("sqlite:///var/lib/liaowang/events.db", "/var/lib/liaowang/events.db"),
    ("sqlite:////var/lib/liaowang/events.db", "/var/lib/liaowang/events.db"),
    ("sqlite:var/events.db", "var/events.db"),
    ("sqlite:events.db", "events.db"),
    ("sqlite:///tmp/my%20events.db", "/tmp/my events.db"),
])
def test_sqlite_url_names_a_file(url: str, path: str) -> None:
    assert sqlite_path(url) == Path(path)


@pytest.mark.parametrize("url", ["sqlite://host/events.db", "sqlite:", "sqlite:///",
                                 "sqlite:///x.db?mode=ro"])
def test_sqlite_url_without_a_plain_file_is_refused(url: str) -> None:
    with pytest.raises(StoreError, match="sqlite URL"):
        sqlite_path(url)


def test_open_store_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "events.db"
    with open_store(f"sqlite://{path}") as store:
        assert isinstance(store, SQLiteStore)
        store.write([modbus_event(at(0), 3)])
    assert path.is_file()


def test_relative_path_is_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:var/events.db"):
        pass
    assert (tmp_path / "var" / "events.db").is_file()


def test_an_unreachable_elasticsearch_is_unavailable_and_names_the_host() -> None:
    port = free_port()   # nothing listens there
    store = open_store(f"http://user:secret@127.0.0.1:{port}")
    with store, pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}") as caught:
        store.write([modbus_event(at(0), 3)])
    assert "secret" not in str(caught.value)


def test_unknown_scheme_is_named_without_the_rest_of_the_url() -> None:
    with pytest.raises(StoreError, match="'postgres'") as caught:
        open_store("postgres://user:secret@db/events")
    assert "secret" not in str(caught.value)


def test_url_without_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="needs a scheme"):
        open_store(str(tmp_path / "events.db"))


def test_store_uses_wal_and_reopens_its_data(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    event = modbus_event(at(0), 3)
    with SQLiteStore(path) as store:
        store.write([event])
    with SQLiteStore(path) as store:
        assert store.get(event["event"]["id"]) == event
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        SQLiteStore(path)


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(StoreError):
        SQLiteStore(path)


def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "events.db")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.search()
