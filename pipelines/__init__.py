"""Moving events: enrichment, spool, sinks, and the stores behind the console.

``pipelines`` wires the sensor and detection to where events go. It may import ``liaowang``,
``sensor`` and ``detection``; nothing below it imports ``pipelines``.
"""
