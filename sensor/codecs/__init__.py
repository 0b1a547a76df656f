"""Codecs: decoders of payloads that analyzers find inside their PDUs (NAS-5GS in NGAP).

A codec is not an analyzer: it has no transport, ports or flow; it turns bytes an analyzer hands
it into event fields, and raises its own typed error when it cannot.
"""
