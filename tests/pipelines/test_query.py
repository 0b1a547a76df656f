"""Query strings: the checked tree, the errors, and what the translated SQL matches.

Match sets run :func:`pipelines.query.to_sql` on an in-memory table of JSON documents only (no
extracted columns), so they complement the contract suite, which runs the store's own layout.
"""

from __future__ import annotations

import ipaddress
import json
import sqlite3
from collections.abc import Iterator

import pytest

from pipelines.query import (
    SQL_FUNCTIONS,
    And,
    Cidr,
    Exists,
    Node,
    Not,
    Or,
    Range,
    SqlLayout,
    Term,
    Text,
    Wildcard,
    field_sql,
    parse_query,
    to_sql,
)
from pipelines.store.base import QueryError
from tests.utils.events import at, flow_event, modbus_event, weird_event

EVENTS = {
    "read": modbus_event(at(0), 3),
    "write": modbus_event(at(60), 6, function_name="write_single_register"),
    "flow6": flow_event(at(3600), src=("2001:db8::10", 40000), dst=("2001:db8:0:1::1", 502)),
    "pct": weird_event(at(7200), "modbus_odd_length", "100% done_now"),
    "glob": weird_event(at(7201), "dnp3_bad_crc", "[x]*?"),
    "quote": weird_event(at(7202), "s7comm_bad_tpkt", 'say "hi" \\ now'),
}
ALL = set(EVENTS)
CLIENT_SIDE = ALL - {"flow6"}
DAY = 86_400_000_000


@pytest.fixture(scope="module")
def table() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    for name, function in SQL_FUNCTIONS.items():
        conn.create_function(name, 1, function, deterministic=True)
    conn.execute("CREATE TABLE events (name TEXT, doc TEXT)")
    conn.executemany("INSERT INTO events VALUES (?, ?)",
                     [(n, json.dumps(e, ensure_ascii=False)) for n, e in EVENTS.items()])
    yield conn
    conn.close()


def matches(conn: sqlite3.Connection, query: str) -> set[str]:
    sql = to_sql(parse_query(query), SqlLayout({}))
    return {name for (name,) in conn.execute(f"SELECT name FROM events WHERE {sql.text}",
                                             sql.params)}


MATCHES = [
    ('weird.detail:"100% done_now"', {"pct"}),
    ("100%", {"pct"}),
    ("100?", {"pct"}),
    ("100_", set()),
    ("1_0", set()),
    ("DONE_now", {"pct"}),
    ("weird.detail:\\[x\\]\\*\\?", {"glob"}),
    ("weird.detail:\\[x\\]*", {"glob"}),
    ("weird.detail:\\[x\\]\\**", {"glob"}),
    ("weird.detail:x*", set()),
    ('"say \\"hi\\""', {"quote"}),
    ('weird.detail:"say \\"hi\\" \\\\ now"', {"quote"}),
    ("NOT weird.detail:x", ALL),
    ("NOT (event.dataset:weird OR event.dataset:flow)", {"read", "write"}),
    ("event.start:2015-10-22", {"flow6"}),
    ("event.start:>2015-10-22T10:59:30Z", set()),
    ("event.start:>=2015-10-22T10:59:30Z", {"flow6"}),
    ("event.end:[2015-10-22T11:00:00Z TO *]", {"flow6"}),
    ("@timestamp:<=2015-10-21", set()),
    ("@timestamp:>2015-10-21", ALL),
    ("@timestamp:>2015-10-22", set()),
    ("@timestamp:<2015-10-23", ALL),
    ("@timestamp:2015-10-22T10\\:*", {"read", "write"}),
    ('source.ip:"2001:db8::/32"', {"flow6"}),
    ('destination.ip:"2001:db8:0:1::/64"', {"flow6"}),
    ("source.ip:[10.0.0.0 TO 10.0.0.1]", CLIENT_SIDE),
    ("source.ip:{10.0.0.0 TO 10.0.0.1}", set()),
    ('source.ip:"::ffff:10.0.0.1"', CLIENT_SIDE),
    ("source.ip:2001\\:db8\\:\\:*", {"flow6"}),
    ("modbus.is_response:false", {"read", "write"}),
    ("modbus.is_response:FALSE", {"read", "write"}),
    ("source.bytes:>=900", {"flow6"}),
    ("modbus.function_code:6.0", {"write"}),
    ("destination.port:5?2", ALL),
    ("_exists_:weird", {"pct", "glob", "quote"}),
    ("_exists_:weird.detail AND NOT _exists_:flow", {"pct", "glob", "quote"}),
    ("*:*", ALL),
    ("*:tap1", ALL),
    ("event.dataset:modbus^2", {"read", "write"}),
    ("modbus.function_code:(3 6)", set()),
    ("modbus.function_code:(3 OR 6)", {"read", "write"}),
    ("modbus.function_code:(>=5 AND <10)", {"write"}),
    ("modbus.function_code:[3 TO 6} OR event.dataset:flow", {"read", "flow6"}),
]


@pytest.mark.parametrize(("query", "expected"), MATCHES, ids=[q for q, _ in MATCHES])
def test_translation_matches(table: sqlite3.Connection, query: str, expected: set[str]) -> None:
    assert matches(table, query) == expected


TREES: list[tuple[str, Node | None]] = [
    ("", None),
    ("   ", None),
    ("plc", Text("plc")),
    ('"a*b"', Text("a\\*b")),
    ("modbus.function_code:(3 OR 6)",
     Or((Term("modbus.function_code", 3), Term("modbus.function_code", 6)))),
    ("source.ip:10.0.0.1", Term("source.ip", ipaddress.ip_address("10.0.0.1"))),
    ('source.ip:"10.1.2.3/8"', Cidr("source.ip", ipaddress.ip_network("10.0.0.0/8"))),
    ("@timestamp:2015-10-22", Range("@timestamp", at(-36000), at(-36000) + DAY,
                                    include_high=False)),
    ("@timestamp:{2015-10-22 TO 2015-10-23]", Range("@timestamp", at(-36000) + DAY,
                                                   at(-36000) + 2 * DAY, include_high=False)),
    ("modbus.exception_code:*", Exists("modbus.exception_code")),
    ("_exists_:pcap.frame", Exists("pcap.frame")),
    ("weird.name:dnp3_*", Wildcard("weird.name", "dnp3_*")),
    ("a -b +c", And((Text("a"), Not(Text("b")), Text("c")))),
    ("source.port:<=1024", Range("source.port", None, 1024)),
]


@pytest.mark.parametrize(("query", "expected"), TREES, ids=[q or "empty" for q, _ in TREES])
def test_parse_tree(query: str, expected: Node | None) -> None:
    assert parse_query(query) == expected


ERRORS = [
    ("modbus.fonction_code:3",
     r"unknown field 'modbus\.fonction_code' \(did you mean 'modbus\.function_code'\?\) "
     r"at position 0"),
    ("_exists_:nothing.here", r"unknown field 'nothing\.here'"),
    ("modbus.function_code:abc", r"modbus\.function_code: 'abc' is not a number at position 21"),
    ('source.ip:"10.0.0.300"', "not an IP address"),
    ("source.ip:[10.0.0.0/8 TO 10.0.0.9]", "not an IP address"),
    ("@timestamp:>tomorrow", "'tomorrow' is not a date"),
    ("modbus.is_response:yes", "true or false"),
    ("event.dataset:(observer.name:tap1)", "inside the query of field 'event.dataset'"),
    ("modbus.function_name:read~2", "fuzzy queries are not supported"),
    ('"read holding"~2', "proximity queries are not supported"),
    ("weird.name:/modbus.*/", "regex queries are not supported"),
    ("[1 TO 5]", "needs a field"),
    (">5", "needs a field"),
    ("modbus.function_code:(3 OR", "does not parse: unexpected end"),
    ("event.dataset:modbus AND AND", "does not parse: unexpected 'AND' at position 25"),
    ('weird.name:"open', "does not parse"),
    ("(" * 70 + "a" + ")" * 70, "nested more than 64 levels"),
    (" OR ".join(f"modbus.function_code:{n}" for n in range(600)), "more than 512 terms"),
]


@pytest.mark.parametrize(("query", "message"), ERRORS, ids=[q[:40] for q, _ in ERRORS])
def test_query_errors(query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(query)


@pytest.mark.parametrize(("query", "hostile"), [
    ("event.dataset:\"x' OR 1=1 --\"", "x' OR 1=1 --"),
    ("\"'); DROP TABLE events; --\"", "DROP TABLE"),
    ("weird.detail:*'*", "'*"),
    ("source.ip:[10.0.0.1 TO 10.0.0.2] AND observer.name:\"a\\\"b\"", 'a"b'),
])
def test_values_travel_only_as_parameters(query: str, hostile: str) -> None:
    sql = to_sql(parse_query(query), SqlLayout({"observer.name": "observer"}))
    assert hostile not in sql.text
    assert sql.text.count("?") == len(sql.params)


def test_field_sql_accepts_schema_fields_only() -> None:
    layout = SqlLayout({"@timestamp": "ts", "source.ip": "source_ip"})
    assert field_sql(layout, "@timestamp") == "ts"
    assert field_sql(layout, "source.ip") == "source_ip"
    assert field_sql(layout, "source.ip", raw=True) == "json_extract(doc, '$.\"source\".\"ip\"')"
    assert field_sql(layout, "event.start") == "lw_us(json_extract(doc, '$.\"event\".\"start\"'))"
    with pytest.raises(QueryError, match="unknown field"):
        field_sql(layout, "doc') OR 1=1 --")


def test_a_query_is_parsed_once() -> None:
    assert parse_query("modbus.function_code:3 AND plc") is parse_query(
        "modbus.function_code:3 AND plc")
