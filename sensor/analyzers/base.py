"""The analyzer contract.

An analyzer module exports one :class:`AnalyzerSpec`. Its ``parse`` is pure (bytes in, typed PDU
out, no flow, clock or configuration) and has three outcomes: :class:`Parsed` (a PDU and the bytes
it used), :class:`NeedMore` (how many bytes in all it needs) or :class:`Malformed` (a stable
snake_case reason prefixed by the protocol). Its ``to_event`` turns a PDU into the fields of the
protocol's namespace; the engine adds timestamps, endpoints and ids.

State that spans PDUs (pairing a response with its request, a session's security policy) lives in
one object per flow made by ``new_state``; ``to_event`` receives it (``None`` when the analyzer
declares no state) and keeps it bounded. ``to_event`` returns one event's fields, or a list of
them when a PDU carries more than one (an NGAP message with its NAS PDU); fields that set
``event.dataset`` make an event of that dataset instead of the analyzer's own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Parsed:
    pdu: Any
    consumed: int


@dataclass(frozen=True, slots=True)
class NeedMore:
    needed: int


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: str


ParseResult = Parsed | NeedMore | Malformed
Fields = dict[str, Any]


@dataclass(frozen=True, slots=True)
class AnalyzerSpec:
    """What the dispatcher needs to know about one protocol analyzer."""

    name: str                                       # the event.dataset of its events
    transport: Literal["tcp", "udp", "sctp"]
    ports: tuple[int, ...]                          # hints, confirmed by ``probe``
    probe: Callable[[bytes], bool | None]           # cheap check of a flow's first payload;
                                                    # None: too short to tell yet
    parse: Callable[[bytes, bool], ParseResult]     # (buffer, sent to the server) → result
    to_event: Callable[[Any, Any], Fields | list[Fields]]   # (PDU, flow state) → fields
    max_pdu: int = 65_535                           # a PDU can never be longer than this
    ppids: tuple[int, ...] = ()                     # SCTP payload protocol ids it reads
    new_state: Callable[[], Any] | None = None      # per-flow state for ``to_event``
    load: Callable[[], None] | None = None          # loads now what the first PDU would load

    def events(self, pdu: Any, state: Any) -> list[Fields]:
        """The fields of every event ``pdu`` makes, as a list."""
        fields = self.to_event(pdu, state)
        return fields if isinstance(fields, list) else [fields]


def code_name(names: dict[int, str], code: int) -> str:
    """The readable name of a protocol code; unknown codes keep their number.

    >>> code_name({3: "read_holding_registers"}, 3), code_name({}, 99)
    ('read_holding_registers', 'unknown-99')
    """
    return names.get(code, f"unknown-{code}")
