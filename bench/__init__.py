"""Benchmarks behind ``make bench``: a large capture, throughput against peers, flow-table memory.

Not part of the installed package; run from the repository root as modules
(``python -m bench.run``), as the ``bench`` target of the Makefile does.
"""
