"""Values written to a process, per written point: what the baseline learns as value ranges.

A set-point that always moved between 40 and 60 and is suddenly written as 900 is the kind of
change a person at the HMI never makes; the baseline learns, per pair and per written point, the
smallest and largest value written, and flags a write beyond that range by more than a tolerance.

Only quantities have ranges: Modbus holding registers, IEC 60870-5-104 set-points, numeric
BACnet property values. An on/off write (a coil, an IEC-104 single or double command) has no
range to leave — which coils a client writes is the baseline's write ranges' business.

Points are named as text, so a baseline in YAML reads and sorts well: ``holding_registers 8``
(Modbus), ``ioa 4001`` (IEC-104), ``analog_value:3 85`` (BACnet object and property).

>>> event = {"event": {"dataset": "modbus"},
...          "modbus": {"function_code": 16, "address": 8, "values": [120, 7]}}
>>> written_values(event)
[('holding_registers 8', 120), ('holding_registers 9', 7)]
>>> tolerance_of(40, 60)
6.0
>>> outside([40, 60], 65), outside([40, 60], 900)
(False, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable

from detection.operations import Event
from liaowang.events import get_field

# A write may exceed the learned range by this share of the range's magnitude (the larger of its
# width and its largest absolute bound) before it counts as a violation.
VALUE_TOLERANCE = 0.1
MAX_POINTS = 4096  # learned points per pair and protocol: bounded state
Written = list[tuple[str, float]]

MODBUS_VALUE_WRITES: dict[int, tuple[str, str]] = {
    6: ("holding_registers", "address"), 16: ("holding_registers", "address"),
    23: ("holding_registers", "write_address"),
}
IEC104_SETPOINTS = frozenset({48, 49, 50, 61, 62, 63})  # normalised, scaled, float; CP56 time
BACNET_WRITE_PROPERTY = frozenset({15, 16})


def _numbers(value: object) -> list[float]:
    items = value if isinstance(value, list) else [value]
    return [v for v in items
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]


def _modbus(event: Event) -> Written:
    if get_field(event, "modbus.is_response"):
        return []
    table = MODBUS_VALUE_WRITES.get(get_field(event, "modbus.function_code"))
    start = get_field(event, f"modbus.{table[1]}") if table else None
    if table is None or not isinstance(start, int):
        return []
    values = _numbers(get_field(event, "modbus.values"))
    return [(f"{table[0]} {start + i}", v) for i, v in enumerate(values)]


def _iec104(event: Event) -> Written:
    if get_field(event, "iec104.is_response") or get_field(event, "iec104.type_id") not in (
            IEC104_SETPOINTS):
        return []
    ioas, values = get_field(event, "iec104.ioa"), get_field(event, "iec104.value")
    if not isinstance(ioas, list) or not isinstance(values, list):
        return []
    return [(f"ioa {ioa}", v) for ioa, v in zip(ioas, values, strict=False)
            if isinstance(ioa, int) and _numbers(v)]


def _bacnet(event: Event) -> Written:
    if get_field(event, "bacnet.service") not in BACNET_WRITE_PROPERTY:
        return []
    value = _as_number(get_field(event, "bacnet.value"))
    obj = get_field(event, "bacnet.object_type_name") or get_field(event, "bacnet.object_type")
    instance = get_field(event, "bacnet.object_instance")
    prop = get_field(event, "bacnet.property_id")
    if value is None or obj is None or instance is None or prop is None:
        return []
    return [(f"{obj}:{instance} {prop}", value)]


def _as_number(text: object) -> float | None:
    """A BACnet value (carried as text) as a number, when it is one."""
    if isinstance(text, bool) or text is None:
        return None
    try:
        number = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


READERS: dict[str, Callable[[Event], Written]] = {
    "modbus": _modbus, "iec104": _iec104, "bacnet": _bacnet,
}


def written_values(event: Event) -> Written:
    """(point, value) of every value the event writes; empty for reads and other protocols."""
    reader = READERS.get(get_field(event, "event.dataset") or "")
    return reader(event) if reader is not None else []


def tolerance_of(low: float, high: float) -> float:
    return VALUE_TOLERANCE * max(high - low, abs(low), abs(high))


def outside(learned: list[float], value: float) -> bool:
    """Whether ``value`` lies beyond the learned ``[low, high]`` by more than the tolerance."""
    low, high = learned
    margin = tolerance_of(low, high)
    return value < low - margin or value > high + margin


def widen(ranges: dict[str, list[float]], point: str, value: float) -> None:
    """Grow the learned range of ``point`` to hold ``value`` (new points while under
    :data:`MAX_POINTS`)."""
    known = ranges.get(point)
    if known is None:
        if len(ranges) < MAX_POINTS:
            ranges[point] = [value, value]
        return
    known[0], known[1] = min(known[0], value), max(known[1], value)


def describe(point: str, learned: list[float]) -> str:
    low, high = learned
    return f"{point} {_text(low)}..{_text(high)} (±{_text(tolerance_of(low, high))})"


def _text(value: float) -> str:
    return f"{value:g}"
