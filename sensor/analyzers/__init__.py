"""Protocol analyzers, one module each, registered here in one explicit table.

>>> [spec.name for spec in named(["pfcp", "modbus"])]
['modbus', 'pfcp']
>>> named([])
()
"""

from collections.abc import Iterable

from sensor.analyzers import (
    bacnet,
    diameter,
    dnp3,
    enip,
    gtpu,
    gtpv1,
    gtpv2,
    iec104,
    modbus,
    ngap,
    opcua,
    pfcp,
    s7comm,
    sbi,
)
from sensor.analyzers.base import AnalyzerSpec

ANALYZERS: tuple[AnalyzerSpec, ...] = (
    sbi.ANALYZER,
    *diameter.ANALYZERS,
    modbus.ANALYZER,
    *dnp3.ANALYZERS,
    ngap.ANALYZER,
    s7comm.ANALYZER,
    iec104.ANALYZER,
    *enip.ANALYZERS,
    bacnet.ANALYZER,
    opcua.ANALYZER,
    pfcp.ANALYZER,
    gtpu.ANALYZER,
    gtpv1.ANALYZER,
    gtpv2.ANALYZER,
)


def named(names: Iterable[str] | None) -> tuple[AnalyzerSpec, ...]:
    """The analyzers of these names, in the table's order; None: every one."""
    if names is None:
        return ANALYZERS
    wanted = set(names)
    return tuple(spec for spec in ANALYZERS if spec.name in wanted)


__all__ = ["ANALYZERS", "AnalyzerSpec", "named"]
