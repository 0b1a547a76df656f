"""Passive asset discovery: an inventory of hosts built from the events as they flow.

Each event says something about its two endpoints: that they exist (first and last seen), which
MAC they use, which protocols they speak and with whom, which role they play (a Modbus client is
a master, its server a PLC; the SCTP peer on 38412 is an AMF, the other a gNB; the sender of a
PFCP session establishment is an SMF), what they reveal about themselves (a Modbus device
identification, an S7 module from the SZL, an ENIP identity, an NF profile, Diameter host and
realm), and how often alerts name them.

- :mod:`pipelines.assets.observe` turns one event into :class:`~pipelines.assets.observe.Sighting`
  records, one per endpoint it says something about.
- :mod:`pipelines.assets.model` folds sightings into asset records (plain JSON documents) and
  merges two records of one host; stores keep the merged record (``Store.upsert_assets``).
- :class:`pipelines.assets.sink.AssetSink` is the sink that collects the changes of a batch and
  hands them to the store on flush.
"""

from pipelines.assets.model import Asset, merge_assets
from pipelines.assets.sink import AssetSink

__all__ = ["Asset", "AssetSink", "merge_assets"]
