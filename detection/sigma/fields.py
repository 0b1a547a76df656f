"""Reading fields of nested events by their dotted ECS names.

Getters are built once per field name, so matching an event costs dictionary lookups only.

>>> get = field_getter("modbus.function_code")
>>> get({"modbus": {"function_code": 8}}), get({"modbus": 3}), get({})
(8, None, None)
>>> field_getter("@timestamp")({"@timestamp": "2024-01-01T00:00:00Z"})
'2024-01-01T00:00:00Z'
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from liaowang.events import parse_timestamp

Event = dict[str, Any]
Getter = Callable[[Event], Any]


def field_path(name: str) -> tuple[str, ...]:
    """The keys leading to ``name`` in a nested event (``@timestamp`` is one key)."""
    return (name,) if name.startswith("@") else tuple(name.split("."))


def field_getter(name: str) -> Getter:
    """A function returning the value of ``name`` in an event, or None when it is absent."""
    path = field_path(name)
    if len(path) == 1:
        return _one(path[0])
    if len(path) == 2:
        return _two(*path)
    return _many(path)


def _one(key: str) -> Getter:
    def get(event: Event) -> Any:
        return event.get(key)
    return get


def _two(outer: str, inner: str) -> Getter:
    def get(event: Event) -> Any:
        node = event.get(outer)
        return node.get(inner) if type(node) is dict else None
    return get


def _many(path: tuple[str, ...]) -> Getter:
    def get(event: Event) -> Any:
        node: Any = event
        for key in path:
            if type(node) is not dict:
                return None
            node = node.get(key)
        return node
    return get


def group_key(getters: tuple[Getter, ...], event: Event) -> tuple[Any, ...]:
    """The values of several fields as a hashable key (lists become tuples)."""
    # Every event a correlation observes passes here: a plain loop, no generator or helper call.
    key = []
    for get in getters:
        value = get(event)
        key.append(tuple(value) if isinstance(value, list) else value)
    return tuple(key)


def unflatten(event: Event) -> Event:
    """Nest the dotted keys of an event written by hand (``{"modbus.unit_id": 1}``).

    >>> unflatten({"modbus.unit_id": 1, "modbus": {"function_code": 8}, "@timestamp": "t"})
    {'modbus': {'unit_id': 1, 'function_code': 8}, '@timestamp': 't'}
    """
    nested: Event = {}
    for key, value in event.items():
        *parents, last = field_path(key)
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        if isinstance(value, dict):
            node.setdefault(last, {}).update(unflatten(value))
        else:
            node[last] = value
    return nested


def event_time_us(event: Event) -> int:
    """The event time (``@timestamp``) in microseconds since the epoch."""
    return _parse_time(event["@timestamp"])


# Several correlations read the time of the same event: parse it once.
_parse_time = lru_cache(maxsize=1024)(parse_timestamp)
