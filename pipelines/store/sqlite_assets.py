"""The asset inventory in the SQLite store: the ``assets`` table, beside ``events``.

One row per address: the record as JSON, and the columns searches filter and sort on. Roles and
protocols are matched inside the JSON (``json_each``): an inventory has thousands of rows, not
millions. Every function works inside a transaction its caller holds.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from liaowang.events import parse_timestamp
from pipelines.assets.model import Asset, merge_assets, search_text
from pipelines.store.assets import AssetFilter, check_page
from pipelines.store.base import SearchResult, StoreError

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS assets (ip TEXT PRIMARY KEY, last_seen INTEGER NOT NULL, "
    "risk INTEGER NOT NULL, severity INTEGER NOT NULL, alerts INTEGER NOT NULL, "
    "zone TEXT NOT NULL, text TEXT NOT NULL, doc TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS assets_last_seen ON assets (last_seen)",
    "CREATE INDEX IF NOT EXISTS assets_risk ON assets (risk, severity, alerts, last_seen)",
)
_UPSERT = ("INSERT INTO assets (ip, last_seen, risk, severity, alerts, zone, text, doc) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ip) DO UPDATE SET "
           "last_seen = excluded.last_seen, risk = excluded.risk, "
           "severity = excluded.severity, alerts = excluded.alerts, zone = excluded.zone, "
           "text = excluded.text, doc = excluded.doc")
_ORDER = {"risk": "risk DESC, severity DESC, alerts DESC, last_seen DESC, ip",
          "last_seen": "last_seen DESC, ip"}


def create_table(conn: sqlite3.Connection) -> None:
    for statement in SCHEMA:
        conn.execute(statement)


def upsert(conn: sqlite3.Connection, changes: Sequence[Asset]) -> int:
    for change in changes:
        stored = get(conn, change["ip"])
        conn.execute(_UPSERT, _row(change if stored is None else merge_assets(stored, change)))
    return len(changes)


def get(conn: sqlite3.Connection, ip: str) -> Asset | None:
    row = conn.execute("SELECT doc FROM assets WHERE ip = ?", [ip]).fetchone()
    return json.loads(row[0]) if row else None


def search(conn: sqlite3.Connection, filters: AssetFilter, size: int,
           offset: int) -> SearchResult:
    check_page(size, offset)
    where, params = _where(filters.check())
    count = conn.execute(f"SELECT count(*) FROM assets WHERE {where}", params).fetchone()[0]
    rows = conn.execute(f"SELECT doc FROM assets WHERE {where} ORDER BY {_ORDER[filters.sort]} "
                        "LIMIT ? OFFSET ?", [*params, size, offset]).fetchall()
    return SearchResult([json.loads(doc) for (doc,) in rows], count)


def _where(filters: AssetFilter) -> tuple[str, list[Any]]:
    clauses, params = ["1"], []
    if filters.text:
        clauses.append("text LIKE ? ESCAPE '\\'")
        params.append(f"%{_escaped(filters.text.lower())}%")
    if filters.zone:
        clauses.append("zone = ?")
        params.append(filters.zone)
    for key, path in (("role", "$.roles"), ("protocol", "$.protocol_names")):
        value = getattr(filters, key)
        if value:
            clauses.append(f"EXISTS (SELECT 1 FROM json_each(doc, '{path}') WHERE value = ?)")
            params.append(value)
    return " AND ".join(clauses), params


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _row(asset: Asset) -> tuple[Any, ...]:
    try:
        last_seen = parse_timestamp(asset["last_seen"])
        doc = json.dumps(asset, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"asset {asset.get('ip')!r} cannot be stored: {exc}") from exc
    risk = asset["risk"]
    return (asset["ip"], last_seen, risk["score"], risk["max_severity"], risk["alerts"],
            asset["zone"], search_text(asset), doc)
