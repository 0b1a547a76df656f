"""Benchmarks behind ``make bench``: a large capture, throughput against peers, flow-table memory.

Not part of the installed package; run from the repository (see the ``bench`` target).
"""
