"""Rules indexed by the values they require, so an event meets only the rules that can match.

A rule whose condition requires fields to equal one of a few literal values (``modbus.
function_code: 8``, ``sbi.service: [nnrf-nfm, nnrf-disc]``, ``network.transport: tcp`` and
``destination.port: [21, 23]``) is filed under those values, field by field, and is a candidate
for an event only when every one of its fields holds one of them; the rest are tried on every
event of their dataset. The index only narrows the candidates: each candidate's full predicate
still decides.

>>> from sigma.rule import SigmaRule
>>> rule = SigmaRule.from_yaml('''
... title: t
... logsource: {product: liaowang, service: modbus}
... detection:
...   sel: {modbus.function_code: [8, 43], modbus.is_response: false}
...   condition: sel
... ''')
>>> [(field, sorted(values)) for field, values in requirements(rule)]
[('modbus.function_code', ['43', '8'])]
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
Requirements = dict[str, frozenset[str]]     # field: the values one of which it must hold


def requirements(rule: SigmaRule) -> tuple[Requirement, ...]:
    """The fields every matching event holds one of a few literal values in, with the values."""
    try:
        conditions = rule.detection.parsed_condition
        if len(conditions) != 1:
            return ()
        return tuple(_required(conditions[0].parsed).items())
    except SigmaError:
        return ()


def _required(node: Any) -> Requirements:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        key = _literal_key(node.value)
        return {node.field: frozenset([key])} if key is not None else {}
    if isinstance(node, ConditionAND):      # each field: the fewest values any part allows
        found: Requirements = {}
        for part in map(_required, node.args):
            for field, values in part.items():
                if field not in found or len(values) < len(found[field]):
                    found[field] = values
        return found
    if isinstance(node, ConditionOR):       # the fields every branch requires, values joined
        branches = [_required(arg) for arg in node.args]
        common = set.intersection(*(set(branch) for branch in branches))
        return {field: frozenset().union(*(branch[field] for branch in branches))
                for field in sorted(common)}
    return {}


def _literal_key(value: Any) -> str | None:
    if isinstance(value, SigmaNumber) and type(value.number) is int:
        return str(value.number)
    if isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString) \
            and not value.contains_special():
        return value.to_plain_regex().lower()
    return None


def lookup_keys(value: Any) -> tuple[str, ...]:
    """The index keys under which rules that may match ``value`` are filed."""
    kind = type(value)      # most values: a string or an integer, tested first
    if kind is str:
        return (value.lower(),)
    if kind is int:
        return (str(value),)
    if kind is bool:
        return ()
    if isinstance(value, float) and value.is_integer():
        return (text(value), str(int(value)))
    return (text(value).lower(),)


class DatasetIndex(Generic[Item]):
    """The rules of one dataset: unindexed ones, and tables by required field values."""

    def __init__(self, entries: Sequence[tuple[Item, Sequence[Requirement]]]) -> None:
        self.unindexed = [item for item, required in entries if not required]
        self.needed = {id(item): len(required) for item, required in entries if required}
        tables: dict[str, dict[str, list[Item]]] = {}
        for item, required in entries:
            for field, values in required:
                table = tables.setdefault(field, {})
                for key in values:
                    table.setdefault(key, []).append(item)
        self.tables: list[tuple[Callable[[Event], Any], dict[str, list[Item]]]] = [
            (field_getter(name), table) for name, table in tables.items()]

    def candidates(self, event: Event) -> Sequence[Item]:
        """The rules worth trying on ``event``, each once (to be read, not changed)."""
        hits: dict[int, int] = {}      # by id: how many of a rule's fields hold a wanted value
        filed: list[Item] = []
        for get, table in self.tables:
            value = get(event)
            if value is None:
                continue
            for item in value if type(value) is list else (value,):
                for key in lookup_keys(item):
                    for rule in table.get(key, ()):
                        # a list's items may count one field twice: a spare candidate, no harm
                        count = hits[id(rule)] = hits.get(id(rule), 0) + 1
                        if count == self.needed[id(rule)]:
                            filed.append(rule)
        if not filed:   # most events: the unindexed rules as they are, without a copy
            return self.unindexed
        return self.unindexed + filed
