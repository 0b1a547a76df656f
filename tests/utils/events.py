"""Builders of schema-valid events at fixed times, and a small named corpus for store tests.

>>> event = modbus_event(at(0), function_code=3)
>>> event["@timestamp"], event["modbus"]["function_code"]
('2015-10-22T10:00:00.000000Z', 3)
"""

from __future__ import annotations

import json
from typing import Any

from liaowang.events import event_id, iso_timestamp, new_event
from liaowang.schema import validate
from pipelines.sinks.base import Sink
from pipelines.store.base import Event, merge_patch

BASE_US = 1_445_508_000_000_000
"""2015-10-22T10:00:00Z, in microseconds."""

CLIENT = ("10.0.0.1", 49152)
PLC = ("10.0.0.2", 502)
COMMUNITY_ID = "1:LQU9qZlK+B5F3KDmev6m5PMibrg="


class KeptEvents(Sink):
    """A sink that keeps every event written to it, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def write(self, events: list[Event]) -> None:
        self.events += events


def at(seconds: float) -> int:
    """Microseconds ``seconds`` after :data:`BASE_US`."""
    return BASE_US + round(seconds * 1_000_000)


def checked(event: Event) -> Event:
    """``event``, after checking it against the schema."""
    problems = validate(event)
    if problems:
        raise ValueError(f"not a schema-valid event: {problems}")
    return event


def make_event(dataset: str, ts_us: int, *, kind: str = "event", observer: str = "tap1",
               src: tuple[str, int] = CLIENT, dst: tuple[str, int] = PLC,
               frame: int | None = None, **namespaces: dict[str, Any]) -> Event:
    """An event with endpoints; ``namespaces`` are merged in (``modbus={...}``). The id is a hash
    of the content, so equal events share it and different ones do not."""
    event = new_event(dataset, ts_us, observer, kind)
    event["source"] = {"ip": src[0], "port": src[1]}
    event["destination"] = {"ip": dst[0], "port": dst[1]}
    event["network"] = {"transport": "tcp", "protocol": dataset, "community_id": COMMUNITY_ID}
    if frame is not None:
        event["pcap"] = {"frame": frame}
    event = merge_patch(event, namespaces)
    event["event"]["id"] = event_id(json.dumps(event, sort_keys=True))
    return checked(event)


def modbus_event(ts_us: int, function_code: int, *, response: bool = False, transaction_id: int = 1,
                 **fields: Any) -> Event:
    """A Modbus/TCP PDU between :data:`CLIENT` and :data:`PLC`; ``fields`` go to ``modbus``."""
    src, dst = (PLC, CLIENT) if response else (CLIENT, PLC)
    modbus = {"transaction_id": transaction_id, "unit_id": 1, "function_code": function_code,
              "is_response": response, **fields}
    return make_event("modbus", ts_us, src=src, dst=dst, modbus=modbus)


def flow_event(ts_us: int, seconds: float = 30, **kwargs: Any) -> Event:
    """A flow that ended at ``ts_us`` after ``seconds``."""
    times = {"start": iso_timestamp(ts_us - round(seconds * 1e6)), "end": iso_timestamp(ts_us)}
    defaults = {"event": times, "flow": {"end_reason": "tcp_close"},
                "source": {"packets": 12, "bytes": 900},
                "destination": {"packets": 10, "bytes": 1200}}
    return make_event("flow", ts_us, **merge_patch(defaults, kwargs))


def weird_event(ts_us: int, name: str, detail: str | None = None, **kwargs: Any) -> Event:
    """Input the analyzer named by ``name``'s prefix could not decode."""
    weird = {"name": name, "analyzer": name.split("_")[0], "detail": detail}
    return make_event("weird", ts_us, weird=weird, **kwargs)


def corpus() -> dict[str, Event]:
    """Eight events by name, spread over a day, with IPv4 and IPv6 endpoints and one alert.

    ``read`` is the oldest; ``weird_v6`` (a day later) the newest.
    """
    return {
        "read": modbus_event(at(0), 3, function_name="read_holding_registers", length=6),
        "read_reply": modbus_event(at(1), 3, response=True,
                                   function_name="read_holding_registers", length=9),
        "write": modbus_event(at(60), 6, transaction_id=2, function_name="write_single_register"),
        "exception": modbus_event(at(120), 134, response=True, transaction_id=3,
                                  function_name="write_single_register", exception_code=2,
                                  exception_name="illegal_data_address"),
        "alert": make_event("modbus", at(121), kind="alert", src=PLC, dst=CLIENT, frame=31,
                            event={"reason": "Modbus exception after a write"},
                            modbus={"transaction_id": 3, "unit_id": 1, "function_code": 134,
                                    "exception_code": 2}),
        "flow": flow_event(at(3600), src=("192.168.1.10", 51000),
                           network={"transport": "udp"}, flow={"end_reason": "idle_timeout"}),
        "weird": weird_event(at(7200), "modbus_invalid_protocol_id",
                             observer="tap2", pcap={"frame": 41, "file": "Ünïcode 1.pcap"}),
        "weird_v6": weird_event(at(86400), "dnp3_header_lacks_magic",
                                src=("2001:db8::1", 40000), dst=("2001:db8:1::2", 502)),
    }
