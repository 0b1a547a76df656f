"""Lists from the configuration in rules: ``field|expand: '%engineering_hosts%'``.

Which hosts may program a PLC, which gNBs may set up N2, which realms may talk Diameter: these
are facts of one site, so rules name a list and the configuration (``detection.lists``) holds
its values. A rule is expanded with pySigma's placeholder transformation before it is compiled;
each value of the list becomes one alternative of the detection item, and a condition can
negate it (``not allowed``: "not in allowed_masters").

Values are typed as the engine compares them: an IP address or a network (``10.1.0.0/16``)
becomes a CIDR test, so a list can mix single hosts and subnets; a whole number stays a number
(a DNP3 address, a gNB id); anything else is a case-insensitive string.

A rule that needs a list the configuration does not set is not loaded: it is reported (a
``note``, by ``rules lint`` and at start-up) and stays silent. Loading it with an empty list
would make every "not in the list" rule fire on all traffic.

>>> from sigma.rule import SigmaRule
>>> rule = SigmaRule.from_yaml('''
... title: write from elsewhere
... logsource: {product: liaowang, service: modbus}
... detection:
...   write: {modbus.function_code: 16}
...   allowed: {source.ip|expand: '%engineering_hosts%'}
...   condition: write and not allowed
... ''')
>>> sorted(list_names(rule))
['engineering_hosts']
>>> from detection.sigma.compiler import compile_rule
>>> matches = compile_rule(expand_lists(rule, {"engineering_hosts": ["10.0.1.0/24"]}))
>>> matches({"modbus": {"function_code": 16}, "source": {"ip": "10.0.9.9"}})
True
>>> matches({"modbus": {"function_code": 16}, "source": {"ip": "10.0.1.7"}})
False
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterator, Mapping, Sequence

from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import Placeholder, SigmaCIDRExpression, SigmaNumber, SigmaString, SigmaType

from detection.sigma.compiler import UnsupportedRule

ListValue = str | int
Lists = Mapping[str, Sequence[ListValue]]


class MissingList(UnsupportedRule):
    """A rule that names a list the configuration does not set: not loaded, and said so."""

    severity = "note"

    def __init__(self, names: Sequence[str], field: str | None) -> None:
        listed = ", ".join(names)
        super().__init__(f"needs detection.lists.{listed} in the configuration; "
                         "not loaded until it is set", field)


def typed_value(value: ListValue) -> SigmaType:
    """One list value as the Sigma value the engine compares (see the module docstring)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return SigmaNumber(value)
    try:
        return SigmaCIDRExpression(str(ipaddress.ip_network(value, strict=False)))
    except ValueError:
        return SigmaString(str(value))


def expand_lists(rule: SigmaRule, lists: Lists) -> SigmaRule:
    """``rule`` with its placeholders filled from ``lists`` (a copy; ``rule`` is not changed).

    Raises :class:`MissingList` when the rule names a list that ``lists`` does not have."""
    needed = list_names(rule)
    if not needed:
        return rule
    missing = sorted(name for name in needed if name not in lists)
    if missing:
        raise MissingList(missing, f"%{missing[0]}%")
    # pySigma's processing pipelines (and the Jinja2 they import): a third of the start-up's
    # pySigma time, for sites that set lists only
    from detection.sigma.list_pipeline import lists_pipeline
    expanded = copy.deepcopy(rule)
    lists_pipeline({name: lists[name] for name in needed}).apply(expanded)
    return expanded


def list_names(rule: SigmaRule) -> set[str]:
    """The names of the lists a rule's detection refers to."""
    return {part.name for item in _detection_items(rule) for value in item.value
            if isinstance(value, SigmaString) for part in value.s
            if isinstance(part, Placeholder)}


def _detection_items(rule: SigmaRule) -> Iterator[SigmaDetectionItem]:
    for detection in rule.detection.detections.values():
        yield from detection_items(detection)


def detection_items(detection: SigmaDetection) -> Iterator[SigmaDetectionItem]:
    """The leaf items of a detection, through its nested detections."""
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from detection_items(item)
        else:
            yield item


__all__ = ["Lists", "MissingList", "expand_lists", "list_names", "typed_value"]
