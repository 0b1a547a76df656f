"""GTPv1-U signalling events agree with tshark's dissection.

The oracle compares the messages that are not G-PDUs (G-PDUs are metered as inner flows), on
UDP 2152: the message type, TEID, sequence number (when the S flag is set), recovery counter,
TEID data I, GTP-U peer address, the chain of extension header types and the QFI of a PDU
session container. The public captures that carry GTPv1-U are user plane almost entirely, so a
synthetic capture of every signalling message (made below, byte by byte) is compared as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

from liaowang.schema import validate
from tests.utils.oracle import Agreement, Key, TsharkPdu, in_parallel, needs_tshark, tshark_pdus
from tests.utils.pcaps import captures_with, run_sensor

pytestmark = needs_tshark

SIGNALLING = "gtp and gtp.message != 255 and udp.port == 2152"
G_PDU = 255
SYNTHETIC = [
    # flags type len  TEID     seq  npdu next | IEs
    "32    01   0004 00000000 0001 00   00",                          # echo request
    "32    02   0006 00000000 0001 00   00     0e 05",                # echo response, recovery 5
    # error indication: TEID data I 0x0badcafe, GTP-U peer address 10.0.0.1
    "32    1a   0010 00000000 0002 00   00     10 0badcafe 85 0004 0a000001",
    # the same behind a UDP port extension header (len 1, port 2152, next 0)
    "36    1a   0014 00000000 0003 00   40     01 0868 00 10 0badcafe 85 0004 0a000001",
    "30    fe   0000 1234abcd",                                       # end marker, no options
    # end marker with a PDU session container (len 1, DL, QFI 9, next 0)
    "34    fe   0008 1234abcd 0000 00   85     01 00 09 00",
    # G-PDU carrying an IPv4 echo: metered as an inner flow, no signalling event
    "30    ff   001c 1234abcd 4500 001c 0000 0000 4001 0000 0a000009 0a00000a 0800f7ff 00000000",
    # supported extension headers notification: list of 2 types (UDP port, PDU session container)
    "32    1f   0008 00000000 0004 00   00     8d 02 40 85",
]


CAPTURES = captures_with("gtpv1-u")

TOLERATED: dict[tuple[str, int], str] = {}


def their_key(pdu: TsharkPdu) -> Key:
    sequence = pdu.int("gtp.seq_number") if pdu.first("gtp.flags.s") == "1" else None
    chain = tuple(t for t in (int(v, 0) for v in pdu.fields.get("gtp.ext_hdr.next", [])) if t)
    return (pdu.int("gtp.message"), pdu.int("gtp.teid"), sequence, pdu.int("gtp.recovery"),
            pdu.int("gtp.teid_data"), pdu.first("gtp.gsn_ipv4"), chain,
            pdu.int("gtp.ext_hdr.pdu_ses_con.qos_flow_id"))


def our_key(event: dict[str, Any]) -> Key:
    g = event["gtp"]
    return (g["message_type"], g["teid"], g.get("sequence"), g.get("recovery"),
            g.get("teid_data"), g.get("peer_address"), tuple(g.get("extension_headers", [])),
            g.get("qfi"))


def compare(path: Path) -> tuple[str, list[tuple[int, Key]], list[tuple[int, Key]], list[str],
                                 int]:
    events = run_sensor(path)
    gtpu = [e for e in events if e["event"]["dataset"] == "gtpu"]
    ours = [(e["pcap"]["frame"], our_key(e)) for e in gtpu if e["gtp"]["message_type"] != G_PDU]
    theirs = [(p.frame, their_key(p)) for p in tshark_pdus(path, "gtp",
                                                            display_filter=SIGNALLING)]
    problems = [f"{path.name}: {problem}" for e in events for problem in validate(e)]
    return path.name, theirs, ours, problems, len(gtpu) - len(ours)


def _agreement(name: str, paths: list[Path]) -> tuple[Agreement, list[str], int]:
    result, problems, undecoded = Agreement(name), [], 0
    for capture, theirs, ours, invalid, g_pdus in in_parallel(compare, paths):
        result.add(capture, theirs, ours)
        problems += invalid
        undecoded += g_pdus
    return result, problems, undecoded


@pytest.fixture(scope="module")
def public() -> tuple[Agreement, list[str], int]:
    assert len({p.name for p in CAPTURES}) == len(CAPTURES)
    return _agreement("gtpu (public captures)", CAPTURES)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[Agreement, list[str], int]:
    path = tmp_path_factory.mktemp("gtpu") / "gtpu-signalling.pcap"
    wrpcap(str(path), [Ether() / IP(src="10.0.0.1", dst="10.0.0.2") /
                       UDP(sport=2152, dport=2152) / Raw(bytes.fromhex(m)) for m in SYNTHETIC])
    return _agreement("gtpu (synthetic)", [path])


def test_the_manifest_lists_the_gtpu_captures() -> None:
    assert len(CAPTURES) == 30


def test_gtpu_signalling_agrees_with_tshark_on_public_captures(public) -> None:
    result, _, g_pdus = public
    print(result.report(TOLERATED))
    print(f"G-PDUs not metered as inner flows (inner IP fragments, non-IP payload), "
          f"reported as gtpu events: {g_pdus}")
    assert result.ratio >= 0.995
    assert result.unexplained(TOLERATED) == []


def test_gtpu_signalling_agrees_with_tshark_on_every_message_type(synthetic) -> None:
    result, _, g_pdus = synthetic
    print(result.report(TOLERATED))
    assert (result.tshark, result.matched, g_pdus) == (7, 7, 0)
    assert result.unexplained(TOLERATED) == []


def test_every_gtpu_event_is_schema_valid(public, synthetic) -> None:
    assert public[1] == synthetic[1] == []
