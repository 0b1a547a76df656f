"""Stores of events and alerts, named by URL.

- ``sqlite:///abs/path/events.db`` — the embedded store at an absolute path;
  ``sqlite:relative/path.db`` — the same, relative to the working directory.
- ``http(s)://[user:password@]host:9200`` — Elasticsearch (TLS: ``ca_file``, ``verify``).

>>> open_store("mysql://db/events")
Traceback (most recent call last):
...
pipelines.store.base.StoreError: unknown store URL scheme 'mysql': use sqlite:///path/events.db \
or http(s)://host:9200
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from pipelines.store.base import Store, StoreError

__all__ = ["Store", "StoreError", "open_store", "sqlite_path"]

_FORMS = "use sqlite:///path/events.db or http(s)://host:9200"


def open_store(url: str, *, ca_file: str | None = None, verify: bool = True) -> Store:
    """The store a URL names; the caller closes it."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        # Imported here: the backend imports pipelines.query, which imports this package.
        from pipelines.store.sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url))
    if scheme in ("http", "https"):
        from pipelines.store.elasticsearch import ElasticsearchStore

        return ElasticsearchStore(url, ca_file=ca_file, verify=verify)
    if not scheme:
        raise StoreError(f"a store URL needs a scheme: {_FORMS}")
    raise StoreError(f"unknown store URL scheme '{scheme}': {_FORMS}")


def sqlite_path(url: str) -> Path:
    """The file of a ``sqlite:`` URL.

    >>> sqlite_path("sqlite:///var/lib/events.db"), sqlite_path("sqlite:var/events.db")
    (PosixPath('/var/lib/events.db'), PosixPath('var/events.db'))
    """
    parts = urlsplit(url)
    if parts.netloc or parts.query or parts.fragment:
        raise StoreError("a sqlite URL names a file only: sqlite:///abs/path.db "
                         "or sqlite:relative/path.db")
    path = unquote(parts.path)
    if not path.strip("/"):
        raise StoreError("a sqlite URL needs a file: sqlite:///abs/path.db")
    return Path("/" + path.lstrip("/") if path.startswith("/") else path)
