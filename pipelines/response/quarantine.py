"""``quarantine``: move an asset into the quarantine zone, through the operator's automation.

The payload names the asset (address, MAC, and its inventory name, role and zone when the
alert was enriched with them) and the zone it moves from and to.

>>> alert = {"event": {"id": "a1"}, "destination": {"ip": "10.0.0.2", "mac": "00:00:5e:00:53:01",
...          "asset": {"name": "plc-7"}, "zone": {"name": "cell-3"}}}
>>> payload = build(alert, [], Options(side="destination")).payload
>>> payload["asset"]["name"], payload["from_zone"], payload["to_zone"]
('plc-7', 'cell-3', 'quarantine')
"""

from __future__ import annotations

from collections.abc import Sequence

from liaowang.events import get_field
from pipelines.response.base import Event, Options, Plan, alert_summary, target_address


def build(alert: Event, related: Sequence[Event], options: Options) -> Plan:
    side = options.side
    address = target_address(alert, side)
    asset = {"ip": str(address), "mac": get_field(alert, f"{side}.mac"),
             "name": get_field(alert, f"{side}.asset.name"),
             "role": get_field(alert, f"{side}.asset.role")}
    payload = {"action": "quarantine", "asset": asset,
               "from_zone": get_field(alert, f"{side}.zone.name"),
               "to_zone": options.quarantine_zone, "alert": alert_summary(alert)}
    return Plan({"side": side, "ip": str(address), "asset": asset["name"]}, payload)
