"""Lucene-style query strings: parsed once, checked against the event schema, then translated.

Two steps, so every backend shares the first:

- :func:`parse_query` parses the text with luqum and turns its tree into a small typed tree
  (:data:`Node`): field names are checked against :data:`liaowang.schema.FIELDS`, values are
  converted to the field's type (numbers, booleans, IP addresses and networks, dates as integer
  microseconds), field groups are distributed, and what no backend supports is refused.
- :func:`to_sql` turns that tree into a parameterised SQL ``WHERE`` fragment for SQLite. Every
  value is a ``?`` parameter, and field names reach SQL only through :func:`field_sql`, which
  accepts nothing but schema fields. (An Elasticsearch translation reads the same tree.)

Implicit operators mean AND. A term without a field matches, case-insensitively, any part of any
value of the event. Errors are :class:`~pipelines.store.base.QueryError` and say where.

>>> parse_query("modbus.function_code:>=5")
Range(field='modbus.function_code', low=5, high=None, include_low=True, include_high=True)
>>> sql = to_sql(parse_query("event.dataset:modbus AND source.port:502"), SqlLayout({}))
>>> sql.params
['modbus', 502]
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import math
import re
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from luqum import tree
from luqum.exceptions import ParseError
from luqum.thread import parse as luqum_parse

from liaowang.events import parse_timestamp
from liaowang.schema import FIELDS, FieldSpec
from pipelines.store.base import QueryError

__all__ = [
    "SQL_FUNCTIONS", "And", "Cidr", "Exists", "MatchAll", "Node", "Not", "Or", "Range",
    "Sql", "SqlLayout", "Term", "Text", "Wildcard", "field_spec", "field_sql", "ip_key",
    "parse_query", "to_sql",
]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Value = str | int | float | bool | IpAddress

MAX_DEPTH = 64
MAX_TERMS = 512
_DAY_US = 86_400_000_000
_NUMERIC = {"integer", "long", "unsigned_long", "float"}
_V4_MAPPED = b"\0" * 10 + b"\xff\xff"
_DATE_ONLY = re.compile(r"\d{4}-?\d{2}-?\d{2}")
_SAFE_NAME = re.compile(r"^@?[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")


# --- the parsed query: backend-neutral, values already typed ---------------------------------

@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


@dataclass(frozen=True, slots=True)
class MatchAll:
    """``*``: every event."""


@dataclass(frozen=True, slots=True)
class Text:
    """A term without a field; ``pattern`` is a Lucene wildcard pattern (``\\`` escapes)."""

    pattern: str


@dataclass(frozen=True, slots=True)
class Term:
    """Equality. Dates never appear here: they become a :class:`Range` over their precision."""

    field: str
    value: Value


@dataclass(frozen=True, slots=True)
class Range:
    """Bounds of the field's type (dates in microseconds); ``None`` is open."""

    field: str
    low: Value | None
    high: Value | None
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True, slots=True)
class Wildcard:
    """The field's value as text matches ``pattern`` (``*``, ``?``; ``\\`` escapes)."""

    field: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Exists:
    field: str


@dataclass(frozen=True, slots=True)
class Cidr:
    field: str
    network: IpNetwork


Node = And | Or | Not | MatchAll | Text | Term | Range | Wildcard | Exists | Cidr


# --- parsing and checking ----------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def parse_query(text: str) -> Node | None:
    """The checked tree of a query string; ``None`` for an empty query (everything matches).

    >>> parse_query('source.ip:"10.0.0.0/8" -event.kind:alert')
    And(items=(Cidr(field='source.ip', network=IPv4Network('10.0.0.0/8')), \
Not(item=Term(field='event.kind', value='alert'))))
    """
    if not text.strip():
        return None
    try:
        parsed = luqum_parse(text)
    except ParseError as exc:
        raise QueryError(_luqum_message(exc)) from exc
    node = _build(parsed, None, 0)
    if _count_terms(node) > MAX_TERMS:
        raise QueryError(f"query has more than {MAX_TERMS} terms")
    return node


def field_spec(name: str) -> FieldSpec:
    """The schema entry of a field, or a :class:`QueryError` that names it."""
    spec = FIELDS.get(name)
    if spec is None:
        close = difflib.get_close_matches(name, FIELDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise QueryError(f"unknown field '{name}'{hint}")
    if spec.type == "object":
        raise QueryError(f"field '{name}' is kept whole and cannot be searched")
    return spec


def _count_terms(node: Node) -> int:
    if isinstance(node, And | Or):
        return sum(map(_count_terms, node.items))
    return _count_terms(node.item) if isinstance(node, Not) else 1


def _field(item: tree.Item, name: str) -> FieldSpec:
    try:
        return field_spec(name)
    except QueryError as exc:
        raise _fail(item, str(exc)) from None


def _luqum_message(exc: ParseError) -> str:
    message = str(exc).removeprefix("Syntax error in input : ").rstrip("!")
    return f"query does not parse: {message.replace('  ', ' ')}"


def _fail(item: tree.Item, message: str) -> QueryError:
    where = f" at position {item.pos}" if getattr(item, "pos", None) is not None else ""
    return QueryError(f"{message}{where}")


Builder = Callable[[Any, FieldSpec | None, int], Node]


def _build(item: tree.Item, field: FieldSpec | None, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise _fail(item, f"query is nested more than {MAX_DEPTH} levels deep")
    builder = _BUILDERS.get(type(item))
    if builder is None:
        raise _fail(item, f"{type(item).__name__.lower()} queries are not supported")
    return builder(item, field, depth + 1)


def _children(item: tree.Item, field: FieldSpec | None, depth: int) -> tuple[Node, ...]:
    return tuple(_build(child, field, depth) for child in item.children)


def _and(item: tree.BaseOperation, field: FieldSpec | None, depth: int) -> Node:
    return And(_children(item, field, depth))


def _or(item: tree.OrOperation, field: FieldSpec | None, depth: int) -> Node:
    return Or(_children(item, field, depth))


def _not(item: tree.Unary, field: FieldSpec | None, depth: int) -> Node:
    return Not(_build(item.a, field, depth))


def _inner(item: tree.Item, field: FieldSpec | None, depth: int) -> Node:
    """Groups, ``+`` and boosts (there is no scoring) stand for what they hold."""
    return _build(item.children[0], field, depth)


def _search_field(item: tree.SearchField, field: FieldSpec | None, depth: int) -> Node:
    if field is not None:
        raise _fail(item, f"field '{item.name}' inside the query of field '{field.name}'")
    if item.name == "_exists_":
        return _exists(item.expr)
    if item.name == "*":
        return _build(item.expr, None, depth)
    return _build(item.expr, _field(item, item.name), depth)


def _exists(expr: tree.Item) -> Node:
    """``_exists_:field``; a namespace (``_exists_:modbus``) means any field in it."""
    if not isinstance(expr, tree.Word | tree.Phrase):
        raise _fail(expr, "_exists_ takes a field name")
    name = _literal(expr)
    inside = tuple(Exists(f) for f in FIELDS if f.startswith(name + "."))
    return Or(inside) if inside and name not in FIELDS else Exists(_field(expr, name).name)


def _word(item: tree.Word, field: FieldSpec | None, depth: int) -> Node:
    if field is None:
        return MatchAll() if item.value == "*" else Text(item.value)
    if item.value == "*":
        return Exists(field.name)
    if _has_wildcard(item.value):
        return Wildcard(field.name, item.value)
    return _equals(field, _literal(item), item)


def _phrase(item: tree.Phrase, field: FieldSpec | None, depth: int) -> Node:
    text = _literal(item)
    return Text(_escape_wildcards(text)) if field is None else _equals(field, text, item)


def _equals(field: FieldSpec, text: str, item: tree.Item) -> Node:
    if field.type == "ip" and "/" in text:
        return Cidr(field.name, _network(field, text, item))
    if field.type == "date":
        start, end = _date_span(field, text, item)
        return Range(field.name, start, end, include_high=False)
    return Term(field.name, _value(field, text, item))


def _range(item: tree.Range, field: FieldSpec | None, depth: int) -> Node:
    field = _needs_field(item, field)
    low = _bound(field, item.low, upper=False, include=item.include_low)
    high = _bound(field, item.high, upper=True, include=item.include_high)
    return Range(field.name, low[0], high[0], low[1], high[1])


def _open_range(item: tree.From | tree.To, field: FieldSpec | None, depth: int) -> Node:
    field = _needs_field(item, field)
    upper = isinstance(item, tree.To)
    value, include = _bound(field, item.a, upper=upper, include=item.include)
    if upper:
        return Range(field.name, None, value, include_high=include)
    return Range(field.name, value, None, include_low=include)


def _needs_field(item: tree.Item, field: FieldSpec | None) -> FieldSpec:
    if field is None:
        raise _fail(item, f"the range '{item}' needs a field, e.g. source.port:{item}")
    return field


def _bound(field: FieldSpec, item: tree.Item, upper: bool, include: bool
           ) -> tuple[Value | None, bool]:
    """One end of a range as (value, inclusive); a date bound is widened to its precision."""
    if not isinstance(item, tree.Word | tree.Phrase):
        raise _fail(item, "a range bound must be a value")
    if isinstance(item, tree.Word) and item.value == "*":
        return None, include
    text = _literal(item)
    if field.type != "date":
        return _value(field, text, item), include
    start, end = _date_span(field, text, item)
    if upper:
        return (end, False) if include else (start, False)
    return (start, True) if include else (end, True)


_BUILDERS: dict[type, Builder] = {
    tree.AndOperation: _and, tree.UnknownOperation: _and, tree.BoolOperation: _and,
    tree.OrOperation: _or, tree.Not: _not, tree.Prohibit: _not, tree.Plus: _inner,
    tree.Group: _inner, tree.FieldGroup: _inner, tree.Boost: _inner,
    tree.SearchField: _search_field, tree.Word: _word, tree.Phrase: _phrase,
    tree.Range: _range, tree.From: _open_range, tree.To: _open_range,
}


# --- values ------------------------------------------------------------------------------------

def _literal(item: tree.Word | tree.Phrase) -> str:
    """The text of a word or phrase, quotes and escapes removed."""
    text = item.value[1:-1] if isinstance(item, tree.Phrase) else item.value
    return re.sub(r"\\(.)", r"\1", text, flags=re.S)


def _value(field: FieldSpec, text: str, item: tree.Item) -> Value:
    try:
        if field.type in _NUMERIC:
            return _number(text)
        if field.type == "boolean":
            return {"true": True, "false": False}[text.lower()]
        if field.type == "ip":
            return ipaddress.ip_address(text)
    except (KeyError, ValueError) as exc:
        raise _fail(item, f"{field.name}: '{text}' is not {_A_TYPE[field.type]}") from exc
    return text


_A_TYPE = {"integer": "a number", "long": "a number", "unsigned_long": "a number",
           "float": "a number",
           "boolean": "true or false", "ip": "an IP address or network", "date": "a date"}


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def _network(field: FieldSpec, text: str, item: tree.Item) -> IpNetwork:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise _fail(item, f"{field.name}: '{text}' is not {_A_TYPE['ip']}") from exc


def _date_span(field: FieldSpec, text: str, item: tree.Item) -> tuple[int, int]:
    """[start, end) in microseconds: a whole day for a bare date, else one microsecond."""
    try:
        start = parse_timestamp(text)
    except ValueError as exc:
        raise _fail(item, f"{field.name}: '{text}' is not a date (ISO 8601)") from exc
    return start, start + (_DAY_US if _DATE_ONLY.fullmatch(text) else 1)


def _pattern_parts(pattern: str) -> Iterator[tuple[bool, str]]:
    """(is_wildcard, text) pieces of a Lucene wildcard pattern."""
    for escaped, wildcard, plain in re.findall(r"\\(.)|([*?])|([^\\*?]+|\\$)", pattern, re.S):
        yield (True, wildcard) if wildcard else (False, escaped or plain)


def _has_wildcard(pattern: str) -> bool:
    return any(wild for wild, _ in _pattern_parts(pattern))


def _escape_wildcards(text: str) -> str:
    return re.sub(r"([\\*?])", r"\\\1", text)


def ip_key(text: object) -> bytes | None:
    """An address as 16 bytes (IPv4 mapped into IPv6) that sort and range like the addresses.

    >>> ip_key("10.0.0.1").hex()
    '00000000000000000000ffff0a000001'
    """
    if not isinstance(text, str):
        return None
    try:
        return _V4_MAPPED + socket.inet_pton(socket.AF_INET, text)
    except OSError:
        pass
    try:
        return socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        return None


def _ip_bytes(address: IpAddress) -> bytes:
    if isinstance(address, ipaddress.IPv4Address):
        return _V4_MAPPED + address.packed
    return address.packed


def _microseconds(text: object) -> int | None:
    try:
        return parse_timestamp(text) if isinstance(text, str) else None
    except ValueError:
        return None


SQL_FUNCTIONS: dict[str, Callable[[object], bytes | int | None]] = {
    "lw_ip": ip_key, "lw_us": _microseconds,
}
"""Deterministic one-argument functions every connection must register for :func:`to_sql`."""


# --- SQL ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Sql:
    text: str
    params: list[Any]


@dataclass(frozen=True, slots=True)
class SqlLayout:
    """Where fields live in a table. ``columns`` maps a field to a column holding it in compared
    form (dates: integer microseconds, IPs: :func:`ip_key`); other fields are read from the
    ``document`` column: the event as JSON text, non-ASCII characters unescaped."""

    columns: Mapping[str, str]
    document: str = "doc"
    lookups: Mapping[str, Callable[[Sql], Sql]] = field(default_factory=dict)
    """Fields also kept in a side table: equality and ranges on one of them are asked there.
    The function turns a condition on the side table's ``value`` into a condition on the row."""


def field_sql(layout: SqlLayout, name: str, raw: bool = False) -> str:
    """The SQL expression of a schema field: compared form, or as stored in JSON (``raw``).

    >>> field_sql(SqlLayout({}), "source.port")
    'json_extract(doc, \\'$."source"."port"\\')'
    """
    spec = field_spec(name)
    if not _SAFE_NAME.fullmatch(name):
        raise QueryError(f"field '{name}' cannot be queried")
    typed = spec.type in {"date", "ip"}
    if name in layout.columns and not (raw and typed):
        return layout.columns[name]
    path = "$" + "".join(f'."{part}"' for part in name.split("."))
    extract = f"json_extract({layout.document}, '{path}')"
    if raw or not typed:
        return extract
    return f"{'lw_us' if spec.type == 'date' else 'lw_ip'}({extract})"


def to_sql(node: Node | None, layout: SqlLayout) -> Sql:
    """A ``WHERE`` fragment and its parameters; ``None`` (the empty query) matches all."""
    if node is None:
        return Sql("1", [])
    return _EMITTERS[type(node)](node, layout)


def _join(op: str, items: tuple[Node, ...], layout: SqlLayout) -> Sql:
    return joined(op, [to_sql(item, layout) for item in items])


def between(column: str, low: Any | None, high: Any | None) -> Sql:
    """``low <= column < high``, an end left open when it is None (``1`` when both are)."""
    found = [(text, value) for text, value in ((f"{column} >= ?", low), (f"{column} < ?", high))
             if value is not None]
    return Sql(" AND ".join(text for text, _ in found) or "1", [value for _, value in found])


def joined(op: str, parts: Sequence[Sql]) -> Sql:
    """``parts`` joined by the operator ``op`` (``AND``, ``OR``, ``+``), each in parentheses."""
    return Sql(f" {op} ".join(f"({p.text})" for p in parts), [v for p in parts for v in p.params])


def _emit_not(node: Not, layout: SqlLayout) -> Sql:
    """A missing field is false, never unknown, so NOT of it is true (as in Lucene)."""
    inner = to_sql(node.item, layout)
    return Sql(f"NOT coalesce(({inner.text}), 0)", inner.params)


def _emit_text(node: Text, layout: SqlLayout) -> Sql:
    """Case-insensitive (ASCII) substring of any value; a cheap LIKE on the whole document
    first, when the needle has nothing JSON would escape."""
    like = "%" + _like_pattern(node.pattern) + "%"
    exact = (f"EXISTS (SELECT 1 FROM json_tree({layout.document}) "
             "WHERE atom IS NOT NULL AND atom LIKE ? ESCAPE '\\')")
    if re.search(r'["\\\x00-\x1f]', _plain(node.pattern)):
        return Sql(exact, [like])
    return Sql(f"{layout.document} LIKE ? ESCAPE '\\' AND {exact}", [like, like])


def _emit_term(node: Term, layout: SqlLayout) -> Sql:
    return _on_field(layout, node.field, lambda column: Sql(f"{column} = ?", [_param(node.value)]))


def _emit_range(node: Range, layout: SqlLayout) -> Sql:
    """A range with both ends open is an existence check: that one stays on the row."""
    bounded = node.low is not None or node.high is not None
    return _on_field(layout, node.field, lambda column: _range_condition(node, column),
                     side_table=bounded)


def _on_field(layout: SqlLayout, name: str, condition: Callable[[str], Sql],
              side_table: bool = True) -> Sql:
    """``condition`` on the field's column, or on its side table's ``value`` (``lookups``)."""
    lookup = layout.lookups.get(name) if side_table else None
    if lookup is None:
        return condition(field_sql(layout, name))
    return lookup(condition("value"))


def _range_condition(node: Range, column: str) -> Sql:
    bounds = [(value, op) for value, op in ((node.low, ">=" if node.include_low else ">"),
                                            (node.high, "<=" if node.include_high else "<"))
              if value is not None]
    if not bounds:
        return Sql(f"{column} IS NOT NULL", [])
    return Sql(" AND ".join(f"{column} {op} ?" for _, op in bounds),
               [_param(value) for value, _ in bounds])


def _emit_wildcard(node: Wildcard, layout: SqlLayout) -> Sql:
    column = field_sql(layout, node.field, raw=True)
    if field_spec(node.field).type != "keyword":
        column = f"CAST({column} AS TEXT)"
    return Sql(f"{column} GLOB ?", [_glob_pattern(node.pattern)])


def _emit_exists(node: Exists, layout: SqlLayout) -> Sql:
    return Sql(f"{field_sql(layout, node.field)} IS NOT NULL", [])


def _emit_cidr(node: Cidr, layout: SqlLayout) -> Sql:
    bounds = [_ip_bytes(node.network.network_address), _ip_bytes(node.network.broadcast_address)]
    return Sql(f"{field_sql(layout, node.field)} BETWEEN ? AND ?", bounds)


def _param(value: Value) -> Any:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return _ip_bytes(value)
    return value


def _plain(pattern: str) -> str:
    return "".join(text for _, text in _pattern_parts(pattern))


def _like_pattern(pattern: str) -> str:
    wildcards = {"*": "%", "?": "_"}
    return "".join(wildcards[text] if wild else re.sub(r"([\\%_])", r"\\\1", text)
                   for wild, text in _pattern_parts(pattern))


def _glob_pattern(pattern: str) -> str:
    return "".join(text if wild else re.sub(r"([*?\[])", r"[\1]", text)
                   for wild, text in _pattern_parts(pattern))


_EMITTERS: dict[type, Callable[[Any, SqlLayout], Sql]] = {
    And: lambda node, layout: _join("AND", node.items, layout),
    Or: lambda node, layout: _join("OR", node.items, layout),
    Not: _emit_not, MatchAll: lambda node, layout: Sql("1", []), Text: _emit_text,
    Term: _emit_term, Range: _emit_range, Wildcard: _emit_wildcard, Exists: _emit_exists,
    Cidr: _emit_cidr,
}
