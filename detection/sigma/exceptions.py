"""Tuning exceptions: field filters that drop a rule's alerts on known-good events.

An exception is a mapping of field names to a value or a list of values; an event matches it
when every field matches (a list: any of its values). Values of ``ip`` fields may be networks
(``10.0.0.0/8``); other values compare as Sigma does: strings without regard to case, numbers
with their text, booleans only with booleans. An array field in the event matches when any
element does. The configuration has already checked the shapes (``liaowang.config``).

>>> drop = compile_exceptions([{"source.ip": "10.1.0.0/16", "modbus.unit_id": [1, 2]}])
>>> drop({"source": {"ip": "10.1.2.3"}, "modbus": {"unit_id": 2}})
True
>>> drop({"source": {"ip": "10.2.2.3"}, "modbus": {"unit_id": 2}})
False
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from detection.sigma.fields import Event, field_getter

ExceptionSpec = Mapping[str, Any]
EventTest = Callable[[Event], bool]
ValueTest = Callable[[Any], bool]


def compile_exceptions(exceptions: Sequence[ExceptionSpec]) -> EventTest | None:
    """A test that says whether an event falls under one of ``exceptions`` (None: no exception)."""
    tests = [_exception_test(exception) for exception in exceptions]
    if not tests:
        return None
    return lambda event: any(test(event) for test in tests)


def _exception_test(exception: ExceptionSpec) -> EventTest:
    fields = [_field_test(name, values) for name, values in exception.items()]
    return lambda event: all(test(event) for test in fields)


def _field_test(name: str, values: Any) -> EventTest:
    get = field_getter(name)
    wanted = values if isinstance(values, list | tuple) else (values,)
    is_ip = name == "ip" or name.endswith(".ip")
    tests = [_address_test(value) if is_ip else _value_test(value) for value in wanted]

    def match(event: Event) -> bool:
        found = get(event)
        if found is None:
            return False
        items = found if type(found) is list else (found,)
        return any(test(item) for item in items for test in tests)
    return match


def _address_test(value: Any) -> ValueTest:
    network = ipaddress.ip_network(str(value), strict=False)

    def match(found: Any) -> bool:
        try:
            return ipaddress.ip_address(str(found)) in network
        except ValueError:
            return False
    return match


def _value_test(value: Any) -> ValueTest:
    if isinstance(value, bool):
        return lambda found: found is value
    text = str(value).casefold()
    return lambda found: not isinstance(found, bool) and str(found).casefold() == text
