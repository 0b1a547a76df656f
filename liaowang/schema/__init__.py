"""The event schema: one artifact, enforced.

Each file in ``fields/`` is a fragment: ``base.yml`` lists the fields every event may carry,
``<dataset>.yml`` the fields of one dataset (an analyzer's namespace), and ``_<topic>.yml`` fields
that events of any dataset may carry for a purpose (``_alert.yml``: what detection adds). A
field is declared by its dotted ECS name and an Elasticsearch type; ``array: true`` lets it hold
a list of such values (a list of objects is written as parallel arrays of its leaves, as
Elasticsearch stores it).
``subscriber_id: true`` marks a subscriber identifier (IMSI, SUPI, SUCI, MSISDN, IMEI/PEI), which
the pipelines pseudonymise before any sink.
From these fragments come the JSON Schema that tests validate every emitted event against, and
the Elasticsearch index template.

>>> FIELDS["modbus.function_code"].type
'integer'
>>> validate({"event": {"kind": "event"}})[:2]
["missing required field '@timestamp'", "missing required field 'event.dataset'"]
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

JSON_TYPES: dict[str, str] = {
    "date": "string",
    "keyword": "string",
    "ip": "string",
    "integer": "integer",
    "long": "integer",
    "unsigned_long": "integer",   # 64-bit protocol counters and identifiers (PFCP SEIDs, volumes)
    "float": "number",
    "boolean": "boolean",
    "object": "object",      # kept as it is: stored, never searched
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    array: bool = False
    subscriber_id: bool = False


def _load_fragment(name: str) -> dict[str, FieldSpec]:
    text = resources.files(__package__).joinpath("fields", f"{name}.yml").read_text()
    raw: dict[str, dict[str, Any]] = yaml.load(text, Loader=yaml.CSafeLoader) or {}
    specs = {}
    for field, decl in raw.items():
        enum = decl.get("enum")
        specs[field] = FieldSpec(field, decl["type"], bool(decl.get("required")),
                                 tuple(enum) if enum else None, bool(decl.get("array")),
                                 bool(decl.get("subscriber_id")))
    return specs


def _fragment_names() -> list[str]:
    folder = resources.files(__package__).joinpath("fields")
    return sorted(p.name.removesuffix(".yml") for p in folder.iterdir() if p.name.endswith(".yml"))


BASE: dict[str, FieldSpec] = _load_fragment("base")
DATASETS: dict[str, dict[str, FieldSpec]] = {
    name: _load_fragment(name) for name in _fragment_names()
    if name != "base" and not name.startswith("_")
}
TOPICS: dict[str, dict[str, FieldSpec]] = {
    name: _load_fragment(name) for name in _fragment_names() if name.startswith("_")
}


def _merge_fields() -> dict[str, FieldSpec]:
    merged = {name: FieldSpec(name, spec.type, enum=spec.enum, array=spec.array)
              for name, spec in BASE.items()}
    for fragment in [*TOPICS.values(), *DATASETS.values()]:
        for name, spec in fragment.items():
            known = merged.get(name)
            if known is not None and (known.type, known.array) != (spec.type, spec.array):
                raise TypeError(f"field {name} declared twice, differently")
            merged[name] = FieldSpec(name, spec.type, enum=spec.enum or (known and known.enum),
                                     array=spec.array, subscriber_id=spec.subscriber_id)
    return merged


FIELDS: dict[str, FieldSpec] = _merge_fields()


SUBSCRIBER_IDS: frozenset[str] = frozenset(n for n, s in FIELDS.items() if s.subscriber_id)


def required_fields(dataset: str) -> list[str]:
    """Names of the fields an event of ``dataset`` must carry."""
    fragment = DATASETS.get(dataset, {})
    names = [n for n, s in BASE.items() if s.required]
    return names + [n for n, s in fragment.items() if s.required and n not in names]


def _leaf_schema(spec: FieldSpec) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": JSON_TYPES[spec.type]}
    if spec.type == "date":
        schema["format"] = "date-time"
    if spec.type == "ip":
        schema["anyOf"] = [{"format": "ipv4"}, {"format": "ipv6"}]
    if spec.enum:
        schema["enum"] = list(spec.enum)
    return {"type": "array", "items": schema} if spec.array else schema


def _nest(leaves: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Turn dotted names into nested objects that refuse unknown keys."""
    root: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
    for dotted, leaf in leaves.items():
        node = root
        *parents, last = dotted.split(".") if not dotted.startswith("@") else [dotted]
        for part in parents:
            node = node["properties"].setdefault(
                part, {"type": "object", "properties": {}, "additionalProperties": False})
        node["properties"][last] = leaf
    return root


def _nested_required(names: list[str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for dotted in names:
        node = root
        *parents, last = dotted.split(".") if not dotted.startswith("@") else [dotted]
        for part in parents:
            node.setdefault("required", [])
            if part not in node["required"]:
                node["required"].append(part)
            node = node.setdefault("properties", {}).setdefault(part, {})
        node.setdefault("required", []).append(last)
    return root


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a Liaowang event."""
    schema = _nest({name: _leaf_schema(spec) for name, spec in FIELDS.items()})
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Liaowang event"
    dataset_node = schema["properties"]["event"]["properties"]["dataset"]
    dataset_node["enum"] = sorted(DATASETS)
    schema["allOf"] = [
        {"if": {"required": ["event"], "properties": {"event": {
            "required": ["dataset"], "properties": {"dataset": {"const": ds}}}}},
         "then": _nested_required(required_fields(ds))}
        for ds in sorted(DATASETS)
    ] + [_nested_required(required_fields(""))]
    return schema


@functools.cache
def _checker() -> Any:
    """The schema compiled by jsonschema-rs: microseconds an event where the pure-Python
    validator takes a millisecond, which neither the console's ingest nor the tests that check
    every event of every capture can spend."""
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(json_schema(), validate_formats=True)


def validate(event: dict[str, Any]) -> list[str]:
    """Return what is wrong with ``event`` (an empty list when it conforms)."""
    checker = _checker()
    if checker.is_valid(event):
        return []
    return sorted({_describe(err) for err in checker.iter_errors(event)})


def _describe(err: Any) -> str:
    import jsonschema_rs

    where = ".".join(str(p) for p in err.instance_path)
    if isinstance(err.kind, jsonschema_rs.ValidationErrorKind.Required):
        return f"missing required field '{where + '.' if where else ''}{err.kind.property}'"
    return f"{where or '<event>'}: {err.message}"
