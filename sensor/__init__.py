"""The sensor: packets in, events out.

``capture`` reads frames from files or interfaces, ``decode`` turns frames into packets,
``flows`` meters them, ``reassembly`` orders TCP payload for the analyzers of
``sensor.analyzers``, and ``engine`` ties them together. The sensor knows the event schema
(``liaowang``) and nothing above it.
"""
