"""MAC address → vendor, from the IEEE registry that ``netaddr`` ships and keeps current."""

from __future__ import annotations

from functools import lru_cache

import netaddr


@lru_cache(maxsize=4096)
def mac_vendor(mac: str) -> str | None:
    """The organisation the MAC's OUI is registered to; None for unknown, local or bad MACs.

    >>> mac_vendor("00:0e:8c:01:02:03"), mac_vendor("02:00:00:00:00:01"), mac_vendor("nope")
    ('Siemens AG', None, None)
    >>> mac_vendor("00-1B-1B-1A-D6-E0")     # registered as "Siemens AG,"
    'Siemens AG'
    """
    try:
        return str(netaddr.EUI(mac).oui.registration().org).strip().rstrip(",").strip()
    except (netaddr.AddrFormatError, netaddr.NotRegisteredError, TypeError, ValueError):
        return None
