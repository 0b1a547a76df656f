"""Protocol analyzers, one module each, registered here in one explicit table."""

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

__all__ = ["ANALYZERS", "AnalyzerSpec"]
