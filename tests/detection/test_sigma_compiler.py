"""Sigma modifiers and conditions, compiled to predicates: one table row per behaviour."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.policy.profiles import TrustedPolicy
from sigma.rule import SigmaRule

from detection.sigma.compiler import UnsupportedRule, compile_rule
from detection.sigma.index import DatasetIndex, requirements


def rule(detection: str) -> SigmaRule:
    text = "title: t\nlogsource: {product: liaowang, service: modbus}\ndetection:\n"
    body = "\n".join("  " + line for line in detection.splitlines())
    return SigmaRule.from_yaml(text + body, policy=TrustedPolicy)  # as the loader parses


EVENT: dict[str, Any] = {
    "source": {"ip": "10.1.2.3", "port": 40000},
    "modbus": {"function_code": 8, "is_response": False, "values": [1, 250, 3],
               "function_name": "Diagnostics"},
    "url": {"path": "/nnrf-nfm/v1/nf-instances/abc"},
    "pfcp": {"create_far": {"apply_action_names": ["FORW", "DUPL"]}},
}

MODIFIERS = [
    # (selection, matches EVENT)
    ("modbus.function_code: 8", True),
    ("modbus.function_code: 9", False),
    ("modbus.function_code: '8'", True),
    ("modbus.function_name: diagnostics", True),           # case-insensitive
    ("modbus.function_name|cased: diagnostics", False),
    ("modbus.function_name|contains: AGNO", True),
    ("modbus.function_name|startswith: diag", True),
    ("modbus.function_name|endswith: tics", True),
    ("modbus.function_name|endswith: diag", False),
    ("modbus.function_name: 'Dia*s'", True),                # wildcards
    ("modbus.function_name: 'Dia?nostics'", True),
    ("modbus.function_name: 'Dia?stics'", False),
    ("url.path|re: '^/nnrf-nfm/v[0-9]+/'", True),
    ("url.path|re: '^/nudm'", False),
    ("source.ip|cidr: 10.1.0.0/16", True),
    ("source.ip|cidr: 192.168.0.0/16", False),
    ("source.ip|cidr: 'fe80::/10'", False),
    ("source.port|gt: 39999", True),
    ("source.port|gte: 40000", True),
    ("source.port|lt: 40000", False),
    ("source.port|lte: 40000", True),
    ("modbus.values: 250", True),                           # any element of an array
    ("modbus.values|gt: 300", False),
    ("pfcp.create_far.apply_action_names: dupl", True),
    ("modbus.values|all: [1, 3]", True),
    ("modbus.values|all: [1, 4]", False),
    ("modbus.exception_code|exists: false", True),
    ("modbus.function_code|exists: true", True),
    ("modbus.exception_code|exists: true", False),
    ("modbus.exception_code: null", True),
    ("modbus.is_response: false", True),
    ("modbus.is_response: true", False),
    ("modbus.function_code: [3, 8, 16]", True),
    ("modbus.function_code: [3, 16]", False),
    ("modbus.missing.deeper: 1", False),
]


@pytest.mark.parametrize(("selection", "expected"), MODIFIERS, ids=[m[0] for m in MODIFIERS])
def test_modifier(selection: str, expected: bool) -> None:
    matches = compile_rule(rule(f"sel:\n  {selection}\ncondition: sel"))
    assert matches(EVENT) is expected


CONDITIONS = [
    ("a and b", True),
    ("a and c", False),
    ("a or c", True),
    ("not c", True),
    ("not a", False),
    ("a and not (b and c)", True),
    ("1 of sel_*", True),
    ("all of sel_*", False),
    ("all of them", False),
    ("1 of them and not c", True),
]


@pytest.mark.parametrize(("condition", "expected"), CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_condition(condition: str, expected: bool) -> None:
    detection = ("a: {modbus.function_code: 8}\nb: {source.port: 40000}\n"
                 "c: {modbus.is_response: true}\nsel_x: {source.ip: 10.1.2.3}\n"
                 "sel_y: {source.ip: 10.9.9.9}\n" f"condition: {condition}")
    assert compile_rule(rule(detection))(EVENT) is expected


def test_keyword_search_looks_at_every_value() -> None:
    matches = compile_rule(rule("keywords:\n  - '*nf-instances*'\ncondition: keywords"))
    assert matches(EVENT) and not matches({"modbus": {"function_code": 3}})


def test_a_regex_that_re2_refuses_is_unsupported() -> None:
    with pytest.raises(UnsupportedRule):
        compile_rule(rule("sel:\n  url.path|re: '(a)\\1'\ncondition: sel"))


def test_index_narrows_candidates_to_rules_that_can_match() -> None:
    wanted = rule("sel: {modbus.function_code: [8, 43]}\ncondition: sel")
    other = rule("sel: {modbus.function_code: 16}\ncondition: sel")
    anywhere = rule("sel: {source.port|gt: 1}\ncondition: sel")
    assert requirements(anywhere) == ()
    index = DatasetIndex([(name, requirements(r)) for name, r in
                          (("wanted", wanted), ("other", other), ("anywhere", anywhere))])
    assert sorted(index.candidates(EVENT)) == ["anywhere", "wanted"]
    assert index.candidates({"modbus": {"function_code": 16.0}}) == ["anywhere", "other"]



NUMBERS = st.one_of(st.integers(-3, 300), st.floats(-3, 300).map(lambda x: round(x, 1)))
WORDS = st.sampled_from(["tcp", "UDP", "Modbus", "8", "8.0", "true", ""])
PLAIN = st.one_of(NUMBERS, WORDS)
SPECIAL = st.sampled_from(["a*", "dia?", "mod*s"])
FOUND = st.one_of(st.none(), st.booleans(), st.integers(-3, 300), st.floats(allow_nan=True),
                  st.sampled_from(["TCP", "udp", "modbus", "8", "8.0", "True", "abc", "dia1",
                                   "", " tcp"]), st.integers(-3, 300).map(str))
FOUND_OR_ARRAY = st.one_of(FOUND, st.lists(FOUND, max_size=3))


def equals(value: Any, found: Any) -> bool:
    """Sigma's equality as the compiler's docstring states it, for one plain value."""
    if found is None:
        return False
    if type(found) is list:
        return any(equals(value, item) for item in found)
    if isinstance(value, str):
        as_text = ("true" if found else "false") if type(found) is bool else str(found)
        return as_text.lower() == value.lower()
    if type(found) is bool:
        return False
    if isinstance(found, int | float):
        return found == value
    if isinstance(value, float) and value.is_integer():
        value = int(value)      # as pySigma reads 2.0 in a rule
    return str(found) == str(value)


def list_rule(values: list[Any]) -> Any:
    return compile_rule(rule(f"sel:\n  f.v: {json.dumps(values)}\ncondition: sel"))


def near(value: Any) -> st.SearchStrategy[Any]:
    """Field values close to a rule value: itself, its text in other cases, its neighbours."""
    if isinstance(value, str):
        return st.sampled_from([value, value.upper(), value.title(), value + " "])
    return st.sampled_from([value, value + 1, float(value), str(value), str(value).upper()])


@settings(max_examples=400, deadline=None)
@given(values=st.one_of(st.lists(NUMBERS, min_size=1, max_size=6),
                        st.lists(WORDS, min_size=1, max_size=6),
                        st.lists(PLAIN, min_size=1, max_size=6)), data=st.data())
def test_a_list_of_plain_values_matches_where_one_of_them_equals_the_field(
        values: list[Any], data: st.DataObject) -> None:
    """A list of plain strings or numbers is one set lookup: it must match exactly where
    one of its values equals the field's value (or an item of its array)."""
    found = data.draw(st.one_of(FOUND_OR_ARRAY, st.sampled_from(values).flatmap(near)))
    matches = list_rule(values)
    assert matches({"f": {"v": found}}) is any(equals(v, found) for v in values)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.one_of(PLAIN, SPECIAL), min_size=2, max_size=5), found=FOUND_OR_ARRAY)
def test_a_list_with_wildcards_matches_as_its_values_one_by_one(values: list[Any], found: Any
                                                                ) -> None:
    one_by_one = [list_rule([v]) for v in values]
    event = {"f": {"v": found}}
    assert list_rule(values)(event) is any(matches(event) for matches in one_by_one)
