"""Sigma detections compiled into Python predicates over nested events.

pySigma parses a rule and resolves its condition (``1 of sel_*``, ``all of them``, ``not``)
into a tree whose leaves are ``field = value`` expressions, the values already shaped by their
modifiers (``contains`` makes a wildcard string, ``cidr`` a network, ``gt`` a comparison, ...).
This module turns that tree into closures. Semantics:

* a field absent from the event (or null) matches nothing but ``|exists: false`` and ``null``;
* an array field matches when any of its elements does;
* strings compare case-insensitively unless ``|cased``; a number in the rule equals the same
  number in the event, or its text;
* ``|re`` searches (unanchored) with RE2, so hostile event values cannot make a rule backtrack.

>>> from sigma.rule import SigmaRule
>>> rule = SigmaRule.from_yaml('''
... title: stop
... logsource: {product: liaowang, service: s7comm}
... detection:
...   job: {s7comm.function: 41, s7comm.is_response: false}
...   lab: {source.ip|cidr: 10.9.0.0/16}
...   condition: job and not lab
... ''')
>>> matches = compile_rule(rule)
>>> matches({"s7comm": {"function": 41, "is_response": False}, "source": {"ip": "10.1.1.1"}})
True
>>> matches({"s7comm": {"function": 41, "is_response": False}, "source": {"ip": "10.9.1.1"}})
False
"""

from __future__ import annotations

import ipaddress
import operator
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.policy import default_policy
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from detection.sigma.fields import Event, field_getter

Predicate = Callable[[Event], bool]
ValueTest = Callable[[Any], bool]


class UnsupportedRule(ValueError):
    """A detection the engine cannot evaluate; ``field`` names where, when known."""

    def __init__(self, reason: str, field: str | None = None,
                 keys: tuple[str, ...] = ("detection",)) -> None:
        super().__init__(reason)
        self.field, self.keys = field, keys


def compile_rule(rule: SigmaRule) -> Predicate:
    """The predicate of a rule's detection (several conditions are alternatives)."""
    try:
        trees = [condition.parsed for condition in rule.detection.parsed_condition]
    except SigmaError as exc:  # the condition is parsed on first use
        reason = str(exc.args[0]) if exc.args else str(exc)
        raise UnsupportedRule(reason, keys=("detection", "condition")) from exc
    return _any([compile_node(tree) for tree in trees])


def compile_node(node: Any) -> Predicate:
    """The predicate of one node of a resolved condition tree."""
    if isinstance(node, ConditionAND):
        return _all([compile_node(arg) for arg in node.args])
    if isinstance(node, ConditionOR):
        return _one_of(node.args) or _any([compile_node(arg) for arg in node.args])
    if isinstance(node, ConditionNOT):
        return _not(compile_node(node.args[0]))
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return field_predicate(node.field, node.value)
    if isinstance(node, ConditionValueExpression):
        return _keyword(value_test(node.value, None))
    raise UnsupportedRule(f"condition element {type(node).__name__} is not supported")


def _all(predicates: Sequence[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        return lambda event: first(event) and second(event)

    def match(event: Event) -> bool:
        return all(predicate(event) for predicate in predicates)
    return match


def _any(predicates: Sequence[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]

    def match(event: Event) -> bool:
        return any(predicate(event) for predicate in predicates)
    return match


def _not(predicate: Predicate) -> Predicate:
    return lambda event: not predicate(event)


def field_predicate(field: str, value: Any) -> Predicate:
    """``field`` against one Sigma value (existence, null, reference, or a value test)."""
    get = field_getter(field)
    if isinstance(value, SigmaExists):
        wanted = bool(value)
        return lambda event: (get(event) is not None) is wanted
    if isinstance(value, SigmaNull):
        return lambda event: get(event) is None
    if isinstance(value, SigmaFieldReference):
        return _field_reference(get, value.field)
    if isinstance(value, SigmaExpansion):
        return _any([field_predicate(field, item) for item in value.values])
    return _on_field(get, value_test(value, field))


def _on_field(get: Callable[[Event], Any], test: ValueTest) -> Predicate:
    """``test`` on a field's value, or on any item of an array."""
    def match(event: Event) -> bool:
        found = get(event)
        if found is None:
            return False
        if type(found) is list:
            return any(test(item) for item in found)
        return test(found)
    return match


def _one_of(args: Sequence[Any]) -> Predicate | None:
    """A field equal to any of a list of plain strings, or of numbers (``function: [5, 6, 15,
    16]``), as one set lookup rather than a test for each value; None for other ORs. The same
    semantics as the tests one by one: strings case-insensitive, against the text of any value;
    numbers equal to a number, or to its text."""
    if not all(type(arg) is ConditionFieldEqualsValueExpression for arg in args) \
            or len({arg.field for arg in args}) != 1:
        return None
    values = [arg.value for arg in args]
    if all(type(v) is SigmaString and all(type(p) is str for p in v.s) for v in values):
        words = frozenset(v.to_plain_regex().lower() for v in values)
        return _on_field(field_getter(args[0].field), lambda found: text(found).lower() in words)
    if all(type(v) is SigmaNumber for v in values):
        return _on_field(field_getter(args[0].field), _numbers_test({v.number for v in values}))
    return None


def _numbers_test(numbers: set[int | float]) -> ValueTest:
    """Equal to one of ``numbers``, or to the text of one; never a boolean."""
    texts = frozenset(str(number) for number in numbers)

    def test(found: Any) -> bool:
        if type(found) is bool:
            return False
        if isinstance(found, int | float):
            return found in numbers
        return text(found) in texts
    return test


def _field_reference(get: Callable[[Event], Any], other: str) -> Predicate:
    get_other = field_getter(other)

    def match(event: Event) -> bool:
        found = get(event)
        return found is not None and found == get_other(event)
    return match


def _keyword(test: ValueTest) -> Predicate:
    """A value without a field: any leaf of the event."""
    return lambda event: any(test(leaf) for leaf in _leaves(event))


def _leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    else:
        yield node


def value_test(value: Any, field: str | None) -> ValueTest:
    """A test of one scalar event value against a Sigma value."""
    if isinstance(value, SigmaBool):
        wanted = bool(value)
        return lambda found: found is wanted
    if isinstance(value, SigmaNumber):
        return _numbers_test({value.number})
    if isinstance(value, SigmaString):
        return _string_test(value)
    if isinstance(value, SigmaRegularExpression):
        return _regex_test(value, field)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_test(value.network)
    if isinstance(value, SigmaCompareExpression):
        return _compare_test(value)
    raise UnsupportedRule(f"value type {type(value).__name__} is not supported", field)


def text(value: Any) -> str:
    """An event value as the text string modifiers see (booleans as ``true``/``false``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _string_test(value: SigmaString) -> ValueTest:
    cased = isinstance(value, SigmaCasedString)
    fold: Callable[[str], str] = (lambda s: s) if cased else str.lower
    parts = value.s
    literal = [part for part in parts if isinstance(part, str)]
    if len(literal) != len(parts) - sum(p is SpecialChars.WILDCARD_MULTI for p in parts):
        return _wildcard_regex_test(value, cased)
    multi = [p is SpecialChars.WILDCARD_MULTI for p in parts]
    if not any(multi):
        return _text_test(operator.eq, fold(value.to_plain_regex()), fold)
    if len(literal) == 1 and len(parts) == 2:
        op = str.endswith if multi[0] else str.startswith
        return _text_test(op, fold(literal[0]), fold)
    if len(literal) == 1 and len(parts) == 3 and multi[0] and multi[2]:
        return _text_test(lambda found, needle: needle in found, fold(literal[0]), fold)
    return _wildcard_regex_test(value, cased)


def _text_test(op: Callable[[str, str], bool], wanted: str, fold: Callable[[str], str]
               ) -> ValueTest:
    return lambda found: op(fold(text(found)), wanted)


def _wildcard_regex_test(value: SigmaString, cased: bool) -> ValueTest:
    pattern = _regex(value.to_regex().regexp.to_plain_regex(), not cased)
    return lambda found: pattern.fullmatch(text(found)) is not None


def _regex_test(value: SigmaRegularExpression, field: str | None) -> ValueTest:
    try:
        pattern = _regex(value.escape(flag_prefix=True, escape_escape_char=False), False)
    except Exception as exc:  # the RE2 binding raises its own error type
        raise UnsupportedRule(f"regular expression not supported by RE2: {exc}", field) from exc
    return lambda found: pattern.search(text(found)) is not None


def _regex(pattern: str, ignore_case: bool) -> Any:
    prefix = "(?i)" if ignore_case else ""
    return default_policy.regex_engine.compile(prefix + pattern)


def _cidr_test(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> ValueTest:
    def test(found: Any) -> bool:
        address = _address(found) if isinstance(found, str) else None
        return address is not None and address in network
    return test


@lru_cache(maxsize=65536)
def _address(found: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(found)
    except ValueError:
        return None


_COMPARE: dict[CompareOperators, Callable[[Any, Any], bool]] = {
    CompareOperators.LT: operator.lt,
    CompareOperators.LTE: operator.le,
    CompareOperators.GT: operator.gt,
    CompareOperators.GTE: operator.ge,
    CompareOperators.NEQ: operator.ne,
}


def _compare_test(value: SigmaCompareExpression) -> ValueTest:
    op, number = _COMPARE[value.op], value.number.number

    def test(found: Any) -> bool:
        return isinstance(found, int | float) and type(found) is not bool and op(found, number)
    return test
