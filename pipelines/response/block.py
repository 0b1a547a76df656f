"""``block``: stop traffic to and from one address.

Artefacts to copy into the firewall that should enforce it, each tagged with the action's
comment: an ``nft -f`` script, ``iptables``/``ip6tables`` commands, and Cisco IOS and Huawei VRP
ACLs; and a payload for a SOAR webhook.

>>> plan = build({"source": {"ip": "198.51.100.7"}, "event": {"id": "a1"}}, [], Options())
>>> print(plan.artefacts["iptables"])
iptables -I FORWARD -s 198.51.100.7 -j DROP -m comment --comment "liaowang alert a1"
iptables -I FORWARD -d 198.51.100.7 -j DROP -m comment --comment "liaowang alert a1"
>>> print(plan.artefacts["huawei_vrp"])
acl number 3999
 description liaowang alert a1
 rule deny ip source 198.51.100.7 0
 rule deny ip destination 198.51.100.7 0
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from pipelines.response.base import Event, Options, Plan, alert_summary, target_address

ACL_NAME = "LIAOWANG-BLOCK"
VRP_ACL_NUMBER = 3999       # an advanced ACL number (3000-3999)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def build(alert: Event, related: Sequence[Event], options: Options) -> Plan:
    address = target_address(alert, options.side)
    comment = f"liaowang alert {alert_summary(alert)['id']}"
    target = {"side": options.side, "ip": str(address)}
    artefacts = {"nftables": nftables(address, comment), "iptables": iptables(address, comment),
                 "cisco_ios": cisco_ios(address, comment),
                 "huawei_vrp": huawei_vrp(address, comment)}
    payload = {"action": "block", "address": str(address), "version": address.version,
               "alert": alert_summary(alert)}
    return Plan(target, payload, artefacts)


def nftables(address: Address, comment: str) -> str:
    """An ``nft -f`` script: a table and forward chain of its own, then the two rules."""
    family = "ip" if address.version == 4 else "ip6"
    return "\n".join([
        "add table inet liaowang",
        "add chain inet liaowang forward "
        "{ type filter hook forward priority -10; policy accept; }",
        f'add rule inet liaowang forward {family} saddr {address} counter drop '
        f'comment "{comment}"',
        f'add rule inet liaowang forward {family} daddr {address} counter drop '
        f'comment "{comment}"',
    ])


def iptables(address: Address, comment: str) -> str:
    command = "iptables" if address.version == 4 else "ip6tables"
    return "\n".join(f'{command} -I FORWARD -{flag} {address} -j DROP -m comment '
                     f'--comment "{comment}"' for flag in ("s", "d"))


def cisco_ios(address: Address, comment: str) -> str:
    if address.version == 4:
        return "\n".join([f"ip access-list extended {ACL_NAME}", f" remark {comment}",
                          f" deny ip host {address} any", f" deny ip any host {address}"])
    return "\n".join([f"ipv6 access-list {ACL_NAME}6", f" remark {comment}",
                      f" deny ipv6 host {address} any", f" deny ipv6 any host {address}"])


def huawei_vrp(address: Address, comment: str) -> str:
    if address.version == 4:
        return "\n".join([f"acl number {VRP_ACL_NUMBER}", f" description {comment}",
                          f" rule deny ip source {address} 0",
                          f" rule deny ip destination {address} 0"])
    return "\n".join([f"acl ipv6 number {VRP_ACL_NUMBER}", f" description {comment}",
                      f" rule deny ipv6 source {address}/128",
                      f" rule deny ipv6 destination {address}/128"])
