"""The cyclic garbage collector, paused while a batch of packets is turned into events.

A batch allocates millions of short-lived containers (events, decoded PDUs, pycrate's trees)
that reference counting frees on its own; the collector, run every 700 allocations, walks every
one still alive each time, and walks the long-lived ones (pycrate's compiled NGAP module, the
rule pack, the configuration) at each full collection. On the benchmark capture that came to a
fifth of the replay's CPU time. Paused for the batch, it runs once the batch is done, when
little is left alive, so cycles made during a batch are still collected and memory stays
bounded by what one batch makes.

>>> import gc
>>> with collector_paused():
...     gc.isenabled()
False
>>> gc.isenabled()
True
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The block runs without the cyclic collector; it is on again afterwards (unless it was
    off before), and its next run takes in everything the block left behind."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def freeze_long_lived() -> None:
    """Move everything alive now out of the collector's sight, for objects that live as long
    as the process (a compiled ASN.1 module): they are still freed by reference counting, but
    full collections stop walking them."""
    gc.freeze()
