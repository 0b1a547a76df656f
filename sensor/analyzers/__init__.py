"""Protocol analyzers, one module each, registered here in one explicit table."""

from sensor.analyzers import modbus
from sensor.analyzers.base import AnalyzerSpec

ANALYZERS: tuple[AnalyzerSpec, ...] = (
    modbus.ANALYZER,
)

__all__ = ["ANALYZERS", "AnalyzerSpec"]
