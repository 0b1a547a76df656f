"""Rules indexed by the values they require, so an event meets only the rules that can match.

A rule whose condition requires a field to equal one of a few literal values (``modbus.
function_code: 8``, ``sbi.service: [nnrf-nfm, nnrf-disc]``) is filed under those values; the
rest are tried on every event of their dataset. The index only narrows the candidates: each
candidate's full predicate still decides.

>>> from sigma.rule import SigmaRule
>>> rule = SigmaRule.from_yaml('''
... title: t
... logsource: {product: liaowang, service: modbus}
... detection:
...   sel: {modbus.function_code: [8, 43], modbus.is_response: false}
...   condition: sel
... ''')
>>> field, values = required_values(rule)
>>> field, sorted(values)
('modbus.function_code', ['43', '8'])
>>> lookup_keys(8.0), lookup_keys("Nnrf")
(('8.0', '8'), ('nnrf',))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import SigmaCasedString, SigmaNumber, SigmaString

from detection.sigma.compiler import text
from detection.sigma.fields import Event, field_getter

Item = TypeVar("Item")
Requirement = tuple[str, frozenset[str]]


def required_values(rule: SigmaRule) -> Requirement | None:
    """A field and the values one of which every matching event has there, if the rule says."""
    try:
        conditions = rule.detection.parsed_condition
        if len(conditions) != 1:
            return None
        return _required(conditions[0].parsed)
    except SigmaError:
        return None


def _required(node: Any) -> Requirement | None:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        key = _literal_key(node.value)
        return (node.field, frozenset([key])) if key is not None else None
    if isinstance(node, ConditionAND):
        found = [r for r in map(_required, node.args) if r is not None]
        return min(found, key=lambda r: len(r[1])) if found else None
    if isinstance(node, ConditionOR):
        parts = [_required(arg) for arg in node.args]
        fields = {part[0] for part in parts if part is not None}
        if None in parts or len(fields) != 1:
            return None
        return fields.pop(), frozenset().union(*(part[1] for part in parts if part))
    return None


def _literal_key(value: Any) -> str | None:
    if isinstance(value, SigmaNumber) and type(value.number) is int:
        return str(value.number)
    if isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString) \
            and not value.contains_special():
        return value.to_plain_regex().lower()
    return None


def lookup_keys(value: Any) -> tuple[str, ...]:
    """The index keys under which rules that may match ``value`` are filed."""
    if type(value) is bool:
        return ()
    if isinstance(value, float) and value.is_integer():
        return (text(value), str(int(value)))
    return (text(value).lower(),)


class DatasetIndex(Generic[Item]):
    """The rules of one dataset: unindexed ones, and tables by required field values."""

    def __init__(self, entries: Sequence[tuple[Item, Requirement | None]]) -> None:
        self.unindexed = [item for item, requirement in entries if requirement is None]
        tables: dict[str, dict[str, list[Item]]] = {}
        for item, requirement in entries:
            if requirement is not None:
                table = tables.setdefault(requirement[0], {})
                for key in requirement[1]:
                    table.setdefault(key, []).append(item)
        self.tables: list[tuple[Callable[[Event], Any], dict[str, list[Item]]]] = [
            (field_getter(name), table) for name, table in tables.items()]

    def candidates(self, event: Event) -> Sequence[Item]:
        """The rules worth trying on ``event``, each once (to be read, not changed)."""
        filed: list[Item] = []
        for get, table in self.tables:
            value = get(event)
            if value is None:
                continue
            for item in value if type(value) is list else (value,):
                for key in lookup_keys(item):
                    filed += table.get(key, ())
        if not filed:   # most events: the unindexed rules as they are, without a copy
            return self.unindexed
        found = self.unindexed + filed
        return list(dict.fromkeys(found)) if len(found) > 1 else found
