"""What the anomaly side reads from an event, protocol by protocol: one table.

Each protocol the sensor decodes gets a :class:`ProtocolView`: which field names the operation
(a Modbus function code, an IEC-104 type id, a PFCP message type, ...), whether the event is a
response, a write (a command that changes the process or a peer's state) or an error, and which
addresses it touches. Everything is read with dotted ECS names, so the detectors know only the
event schema. Operations are kept as text (``"3"``, ``"userdata:4/1"``), so baselines in YAML
sort and compare the same whatever the protocol.

>>> event = {"event": {"dataset": "modbus"}, "source": {"ip": "10.0.0.2"},
...          "destination": {"ip": "10.0.0.9"},
...          "modbus": {"function_code": 16, "is_response": False, "address": 40, "quantity": 2}}
>>> view = VIEWS["modbus"]
>>> view.operation(event), view.is_write(event), client_server(event)
('16', True, ('10.0.0.2', '10.0.0.9'))
>>> register_span(event)
('holding_registers', 'write', 40, 41)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from liaowang.events import get_field

Event = dict[str, Any]


def _first(*names: str) -> Callable[[Event], str | None]:
    """The first of ``names`` the event carries, as text."""

    def read(event: Event) -> str | None:
        for name in names:
            value = get_field(event, name)
            if value is not None:
                return str(value)
        return None

    return read


def _joined(*names: str, sep: str = "/") -> Callable[[Event], str | None]:
    """``names`` joined, when the event carries the first of them."""

    def read(event: Event) -> str | None:
        values = [get_field(event, name) for name in names]
        if values[0] is None:
            return None
        return sep.join(str(v) for v in values if v is not None)

    return read


def _either(*readers: Callable[[Event], str | None]) -> Callable[[Event], str | None]:
    def read(event: Event) -> str | None:
        return next((v for r in readers if (v := r(event)) is not None), None)

    return read


def _true(name: str) -> Callable[[Event], bool]:
    return lambda event: get_field(event, name) is True


def _false(name: str) -> Callable[[Event], bool]:
    return lambda event: get_field(event, name) is False


def _in(name: str, values: frozenset[Any]) -> Callable[[Event], bool]:
    return lambda event: get_field(event, name) in values


def _present(name: str) -> Callable[[Event], bool]:
    return lambda event: get_field(event, name) is not None


def _not_in(name: str, ok: frozenset[Any]) -> Callable[[Event], bool]:
    """An error when ``name`` is present and not one of the ``ok`` values."""

    def read(event: Event) -> bool:
        value = get_field(event, name)
        return value is not None and value not in ok

    return read


def _never(_event: Event) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class ProtocolView:
    operation: Callable[[Event], str | None]
    is_response: Callable[[Event], bool] = _never
    is_write: Callable[[Event], bool] = _never
    is_error: Callable[[Event], bool] = _never
    address_field: str | None = None
    windowed: bool = True  # whether the window models see it (flows: the baseline only)


def _reversed_flow(event: Event) -> bool:
    """A TCP flow whose handshake the sensor missed (the capture began mid-connection) is
    oriented by its first packet; when that came from the lower port, it came from the server."""
    if get_field(event, "network.transport") != "tcp" or "S" in (
            get_field(event, "flow.tcp_flags") or ""):
        return False
    source, destination = get_field(event, "source.port"), get_field(event, "destination.port")
    return isinstance(source, int) and isinstance(destination, int) and source < destination


def _service(event: Event) -> str | None:
    """A flow's service: its transport and the server's port, ``tcp/502``."""
    transport = get_field(event, "network.transport")
    if transport is None:
        return None
    side = "source" if _reversed_flow(event) else "destination"
    port = get_field(event, f"{side}.port")
    return transport if port is None else f"{transport}/{port}"


MODBUS_WRITES = frozenset({5, 6, 15, 16, 21, 22, 23})
DNP3_WRITES = frozenset({2, 3, 4, 5, 6, 13, 14, 15, 16, 18, 19, 20, 21, 24, 27, 28, 30, 31})
S7_WRITES = frozenset({0x05, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x28, 0x29})
IEC104_COMMANDS = frozenset(range(45, 70)) | frozenset(range(100, 108))
CIP_WRITES = frozenset({0x05, 0x06, 0x07, 0x10, 0x4D, 0x53})
BACNET_WRITES = frozenset({15, 16, 17, 20, 27})

VIEWS: dict[str, ProtocolView] = {
    "flow": ProtocolView(_service, _reversed_flow, windowed=False),
    "modbus": ProtocolView(_first("modbus.function_code"), _true("modbus.is_response"),
                           _in("modbus.function_code", MODBUS_WRITES),
                           _present("modbus.exception_code"), "modbus.address"),
    "dnp3": ProtocolView(_either(_first("dnp3.function_code"),
                                 _joined("dnp3.link.function_code", sep="")),
                         _true("dnp3.is_response"), _in("dnp3.function_code", DNP3_WRITES),
                         _present("dnp3.file.status_code"), "dnp3.objects.range_start"),
    "s7comm": ProtocolView(_either(_first("s7comm.function"),
                                   _joined("s7comm.userdata_group", "s7comm.userdata_subfunction"),
                                   _first("s7comm.plus.function", "s7comm.plus.opcode",
                                          "s7comm.cotp.type")),
                           _true("s7comm.is_response"), _in("s7comm.function", S7_WRITES),
                           _not_in("s7comm.error_class", frozenset({0})), "s7comm.item_address"),
    "iec104": ProtocolView(_either(_first("iec104.type_id"),
                                   _joined("iec104.apci_type", "iec104.u_function", sep=":")),
                           _true("iec104.is_response"), _in("iec104.type_id", IEC104_COMMANDS),
                           _true("iec104.negative"), "iec104.ioa"),
    "enip": ProtocolView(_either(_first("cip.service"), _first("enip.command")),
                         _true("enip.is_response"), _in("cip.service", CIP_WRITES),
                         _not_in("cip.general_status", frozenset({0}))),
    "opcua": ProtocolView(_either(_first("opcua.service"), _first("opcua.message_type")),
                          is_error=_in("opcua.message_type", frozenset({"ERR"}))),
    "bacnet": ProtocolView(_either(_first("bacnet.service"), _first("bacnet.apdu_type"),
                                   _first("bacnet.bvlc_function")),
                           _true("bacnet.server"), _in("bacnet.service", BACNET_WRITES),
                           _in("bacnet.apdu_type", frozenset({5, 6, 7}))),
    "gtpu": ProtocolView(_first("gtp.message_type")),
    "gtpv1": ProtocolView(_first("gtpv1.message_type"),
                          is_error=_not_in("gtpv1.cause", frozenset({128}))),
    "gtpv2": ProtocolView(_first("gtpv2.message_type"),
                          is_error=_not_in("gtpv2.cause", frozenset({16}))),
    "pfcp": ProtocolView(_first("pfcp.message_type"), _false("pfcp.is_request"),
                         is_error=_not_in("pfcp.cause", frozenset({1}))),
    "ngap": ProtocolView(_first("ngap.procedure_code"),
                         is_error=_in("ngap.pdu_type", frozenset({"unsuccessfulOutcome"}))),
    "nas5gs": ProtocolView(_first("nas5gs.message_type")),
    "sbi": ProtocolView(_either(_joined("sbi.service", "http.request.method", sep=" "),
                                _joined("http.request.method", "url.path", sep=" ")),
                        _true("sbi.is_response"),
                        _in("http.request.method", frozenset({"POST", "PUT", "PATCH", "DELETE"})),
                        lambda e: (get_field(e, "http.response.status_code") or 0) >= 400),
    "diameter": ProtocolView(_joined("diameter.application_id", "diameter.command_code"),
                             _false("diameter.is_request"),
                             is_error=_true("diameter.is_error")),
}


def view_of(event: Event) -> ProtocolView | None:
    """The view of the event's dataset; None for weirds and unknown datasets."""
    return VIEWS.get(get_field(event, "event.dataset") or "")


def client_server(event: Event) -> tuple[str, str] | None:
    """The (client, server) addresses: a response is counted on its request's pair."""
    source, destination = get_field(event, "source.ip"), get_field(event, "destination.ip")
    if source is None or destination is None:
        return None
    view = view_of(event)
    if view is not None and view.is_response(event):
        return destination, source
    return source, destination


def addresses(event: Event, view: ProtocolView) -> list[int]:
    """The object addresses (registers, IOAs, DB offsets) the event names."""
    if view.address_field is None:
        return []
    value = get_field(event, view.address_field)
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, int)]


MODBUS_TABLES: dict[int, tuple[str, str]] = {
    1: ("coils", "read"), 2: ("discrete_inputs", "read"), 3: ("holding_registers", "read"),
    4: ("input_registers", "read"), 5: ("coils", "write"), 6: ("holding_registers", "write"),
    15: ("coils", "write"), 16: ("holding_registers", "write"),
    22: ("holding_registers", "write"), 23: ("holding_registers", "read"),
}


def register_span(event: Event) -> tuple[str, str, int, int] | None:
    """(table, access, first, last) of a Modbus request; None for anything else."""
    if get_field(event, "event.dataset") != "modbus" or get_field(event, "modbus.is_response"):
        return None
    table = MODBUS_TABLES.get(get_field(event, "modbus.function_code"))
    address = get_field(event, "modbus.address")
    if table is None or address is None:
        return None
    quantity = get_field(event, "modbus.quantity") or 1
    return table[0], table[1], address, address + max(quantity, 1) - 1


def write_span(event: Event) -> tuple[str, int, int] | None:
    """The registers a read/write-multiple (function 23) writes, beside what it reads."""
    if get_field(event, "modbus.function_code") != 23 or get_field(event, "modbus.is_response"):
        return None
    address = get_field(event, "modbus.write_address")
    if address is None:
        return None
    quantity = get_field(event, "modbus.write_quantity") or 1
    return "holding_registers", address, address + max(quantity, 1) - 1
