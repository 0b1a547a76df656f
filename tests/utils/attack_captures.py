"""Crafted attack captures for the rule pack, one per family, made with scapy.

Each capture plays an attacker against a small plant or core: every PDU is written out here (in
bytes, or with scapy's protocol layers where it has them), so a test shows exactly what it
replays. Times are event time: the captures start at :data:`START` and the correlation windows
of the rules are met or missed by the timestamps written here, not by the wall clock.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

START = 1_700_000_000.0          # 2023-11-14T22:13:20Z

ATTACKER = "10.20.0.66"          # an office host, neither engineering station nor master
ENGINEERING = "10.20.0.5"        # the engineering station and SCADA master
OT_NETWORK = "10.20.1.0/24"      # the controllers
PLC, S7_PLC, RTU, IEC_RTU = "10.20.1.10", "10.20.1.20", "10.20.1.30", "10.20.1.40"
BMS_CONTROLLER = "10.20.1.50"

ICS_LISTS = {"engineering_hosts": [ENGINEERING], "allowed_masters": [ENGINEERING],
             "ot_networks": [OT_NETWORK]}


def at(packet: Packet, when: float) -> Packet:
    packet.time = when
    return packet


class TcpSession:
    """One TCP connection with its handshake, sequence numbers kept as segments go either way."""

    def __init__(self, client: str, server: str, server_port: int, client_port: int,
                 opened: float) -> None:
        self.ends = {True: (client, client_port), False: (server, server_port)}
        self.seq = {True: 1000, False: 5000}       # to_server → next sequence number
        self.packets: list[Packet] = []
        self.segment(True, opened, "S")
        self.segment(False, opened + 0.001, "SA")
        self.segment(True, opened + 0.002, "A")

    def segment(self, to_server: bool, when: float, flags: str = "PA", data: bytes = b"") -> None:
        (src, sport), (dst, dport) = self.ends[to_server], self.ends[not to_server]
        tcp = TCP(sport=sport, dport=dport, flags=flags, seq=self.seq[to_server],
                  ack=self.seq[not to_server] if "A" in flags else 0)
        packet = Ether() / IP(src=src, dst=dst) / tcp / (Raw(data) if data else b"")
        self.packets.append(at(packet, when))
        self.seq[to_server] += len(data) + (1 if "S" in flags or "F" in flags else 0)

    def exchange(self, when: float, request: bytes, response: bytes | None = None) -> None:
        self.segment(True, when, data=request)
        if response is not None:
            self.segment(False, when + 0.005, data=response)


def udp(src: str, dst: str, sport: int, dport: int, payload: bytes, when: float) -> Packet:
    return at(Ether() / IP(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(payload), when)


# --- Modbus/TCP -------------------------------------------------------------------------------

def mbap(transaction: int, pdu: bytes, unit: int = 1) -> bytes:
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


def modbus_attack(opened: float) -> list[Packet]:
    """A register written from the office, then unit ids 1-24 swept behind the gateway."""
    session = TcpSession(ATTACKER, PLC, 502, 49152, opened)
    write = bytes([0x06, 0x00, 0x10, 0x01, 0xF4])              # register 16 := 500
    session.exchange(opened + 1, mbap(1, write), mbap(1, write))
    for unit in range(1, 25):
        request = bytes([0x2B, 0x0E, 0x01, 0x00])              # read device identification
        session.exchange(opened + 2 + unit * 0.2, mbap(1 + unit, request, unit))
    return session.packets


# --- S7comm -----------------------------------------------------------------------------------

def tpkt_cotp_dt(s7: bytes) -> bytes:
    return struct.pack(">BBH", 3, 0, len(s7) + 7) + bytes([0x02, 0xF0, 0x80]) + s7


def s7_job(reference: int, parameters: bytes, data: bytes = b"") -> bytes:
    header = struct.pack(">BBHHHH", 0x32, 1, 0, reference, len(parameters), len(data))
    return header + parameters + data


S7_CONNECT = bytes([0x03, 0x00, 0x00, 0x16, 0x11, 0xE0, 0x00, 0x00, 0x00, 0x01, 0x00,
                    0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00, 0xC2, 0x02, 0x01, 0x02])
S7_CONNECTED = bytes([0x03, 0x00, 0x00, 0x16, 0x11, 0xD0, 0x00, 0x01, 0x00, 0x01, 0x00,
                      0xC0, 0x01, 0x0A, 0xC1, 0x02, 0x01, 0x00, 0xC2, 0x02, 0x01, 0x02])
S7_SETUP = bytes([0xF0, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01, 0xE0])
# Write Var: one item, DB1.DBB3 (area 0x84, byte address 3 -> bit address 24), one byte 0xFF.
S7_WRITE_VAR = bytes([0x05, 0x01, 0x12, 0x0A, 0x10, 0x02, 0x00, 0x01, 0x00, 0x01, 0x84,
                      0x00, 0x00, 0x18])
S7_WRITE_DATA = bytes([0x00, 0x04, 0x00, 0x08, 0xFF])
S7_PLC_STOP = bytes([0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09]) + b"P_PROGRAM"


def s7_attack(opened: float) -> list[Packet]:
    """A data block byte overwritten from the office, then the CPU stopped."""
    session = TcpSession(ATTACKER, S7_PLC, 102, 49153, opened)
    session.exchange(opened + 0.01, S7_CONNECT, S7_CONNECTED)
    session.exchange(opened + 0.02, tpkt_cotp_dt(s7_job(1, S7_SETUP)))
    session.exchange(opened + 1, tpkt_cotp_dt(s7_job(2, S7_WRITE_VAR, S7_WRITE_DATA)))
    session.exchange(opened + 2, tpkt_cotp_dt(s7_job(3, S7_PLC_STOP)))
    return session.packets


# --- DNP3 -------------------------------------------------------------------------------------

def dnp3_crc(block: bytes) -> bytes:
    """The CRC of a DNP3 link block (polynomial 0x3D65, reflected, inverted)."""
    crc = 0
    for byte in block:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA6BC if crc & 1 else crc >> 1
    return struct.pack("<H", crc ^ 0xFFFF)


def dnp3_frame(user_data: bytes, destination: int = 10, source: int = 1) -> bytes:
    """A primary unconfirmed user data frame carrying ``user_data`` (transport + application)."""
    header = struct.pack("<BBBBHH", 0x05, 0x64, 5 + len(user_data), 0xC4, destination, source)
    body = b"".join(chunk + dnp3_crc(chunk) for chunk in _chunks(user_data, 16))
    return header + dnp3_crc(header) + body


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset:offset + size]


# CROB (group 12 var 1), one point (index 0): latch on, once, 1 s on.
DNP3_CROB = bytes([0x0C, 0x01, 0x28, 0x01, 0x00, 0x00, 0x00, 0x03, 0x01,
                   0xE8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00])


def dnp3_attack(opened: float) -> list[Packet]:
    """A direct operate of a breaker, then a cold restart, from an unlisted master."""
    session = TcpSession(ATTACKER, RTU, 20000, 49154, opened)
    session.exchange(opened + 1, dnp3_frame(bytes([0xC0, 0xC1, 0x05]) + DNP3_CROB))
    session.exchange(opened + 2, dnp3_frame(bytes([0xC1, 0xC2, 0x0D])))
    return session.packets


# --- IEC 60870-5-104 --------------------------------------------------------------------------

def iec104_i_frame(send: int, asdu: bytes) -> bytes:
    return bytes([0x68, len(asdu) + 4]) + struct.pack("<HH", send << 1, 0) + asdu


def iec104_asdu(type_id: int, cot: int, ioa: int, element: bytes, station: int = 1) -> bytes:
    return (bytes([type_id, 0x01, cot, 0x00]) + struct.pack("<H", station)
            + struct.pack("<I", ioa)[:3] + element)


def iec104_attack(opened: float) -> list[Packet]:
    """Data transfer started, a general interrogation, then a scaled set point (type 49)."""
    session = TcpSession(ATTACKER, IEC_RTU, 2404, 49155, opened)
    session.exchange(opened + 0.1, bytes([0x68, 0x04, 0x07, 0x00, 0x00, 0x00]),
                     bytes([0x68, 0x04, 0x0B, 0x00, 0x00, 0x00]))
    session.exchange(opened + 1, iec104_i_frame(0, iec104_asdu(100, 6, 0, bytes([20]))))
    set_point = iec104_asdu(49, 6, 4001, struct.pack("<h", 9000) + bytes([0x00]))
    session.exchange(opened + 2, iec104_i_frame(1, set_point))
    return session.packets


# --- EtherNet/IP, BACnet ----------------------------------------------------------------------

ENIP_LIST_IDENTITY = struct.pack("<HHII8sI", 0x63, 0, 0, 0, b"\x00" * 8, 0)


def enip_sweep(opened: float, hosts: int = 12) -> list[Packet]:
    """ListIdentity to ``hosts`` addresses of the cell, 0.1 s apart."""
    return [udp(ATTACKER, f"10.20.1.{100 + n}", 50000, 44818, ENIP_LIST_IDENTITY,
                opened + n * 0.1) for n in range(hosts)]


# WriteProperty, analog-value 1, present-value (85), real 0.0, priority 1 (manual life safety).
BACNET_WRITE_PRIORITY_1 = bytes([
    0x81, 0x0A, 0x00, 0x18, 0x01, 0x04,                     # BVLC unicast, NPDU expecting reply
    0x00, 0x05, 0x01, 0x0F,                                 # confirmed request, WriteProperty
    0x0C, 0x00, 0x80, 0x00, 0x01, 0x19, 0x55,               # object, property 85
    0x3E, 0x44, 0x00, 0x00, 0x00, 0x00, 0x3F,               # value: real 0.0
    0x49, 0x01])                                            # priority 1


def bacnet_attack(when: float) -> list[Packet]:
    return [udp(ATTACKER, BMS_CONTROLLER, 47808, 47808, BACNET_WRITE_PRIORITY_1, when)]


# --- flows: telnet into the cell, a port scan and a SYN flood ---------------------------------

def telnet_into_ot(opened: float) -> list[Packet]:
    session = TcpSession(ATTACKER, PLC, 23, 49156, opened)
    session.exchange(opened + 0.5, b"\xff\xfb\x18", b"login: ")
    session.exchange(opened + 1.0, b"admin\r\n", b"Password: ")
    return session.packets


def port_scan(opened: float, ports: int = 30) -> list[Packet]:
    """SYNs to ``ports`` ports of one PLC, each answered with a reset."""
    packets = []
    for n in range(ports):
        when, port = opened + n * 0.05, 1000 + n
        packets.append(at(Ether() / IP(src=ATTACKER, dst=PLC) / TCP(sport=40000, dport=port,
                                                                     flags="S", seq=1), when))
        packets.append(at(Ether() / IP(src=PLC, dst=ATTACKER) / TCP(sport=port, dport=40000,
                                                                     flags="RA", ack=2),
                          when + 0.001))
    return packets


def syn_flood(opened: float, syns: int = 300) -> list[Packet]:
    """Unanswered SYNs from spoofed sources to the HMI's web server, 2 ms apart."""
    return [at(Ether() / IP(src=f"172.16.{n // 250}.{n % 250 + 1}", dst=PLC)
               / TCP(sport=1024 + n, dport=80, flags="S", seq=n), opened + n * 0.002)
            for n in range(syns)]


def write_ics_attacks(path: Path) -> Path:
    """The ICS and network attack capture at ``path``; see :data:`ICS_EXPECTED`."""
    packets = [*modbus_attack(START), *s7_attack(START + 10), *dnp3_attack(START + 20),
               *iec104_attack(START + 30), *enip_sweep(START + 40), *bacnet_attack(START + 45),
               *telnet_into_ot(START + 50), *port_scan(START + 60), *syn_flood(START + 70)]
    wrpcap(str(path), sorted(packets, key=lambda packet: packet.time))
    return path


ICS_EXPECTED = {
    "modbus_write_from_unlisted_host", "modbus_unit_id_sweep",
    "s7comm_write_var_from_unlisted_host", "s7comm_plc_stop",
    "dnp3_control_from_unlisted_master", "dnp3_restart",
    "iec104_command_from_unlisted_station", "iec104_interrogation_from_unlisted_host",
    "enip_list_identity_sweep", "bacnet_priority_write",
    "cleartext_remote_access", "cleartext_remote_access_into_ot", "ot_zone_inbound_connection",
    "port_scan", "syn_flood",
}


# --- 5G core ----------------------------------------------------------------------------------

CORE_ATTACKER = "10.30.9.9"      # a host in the core network that is none of its functions
UPF, SGW, HSS, NRF, UDM = "10.30.0.7", "10.40.0.2", "10.70.0.3", "10.60.0.1", "10.60.0.2"
ROGUE_GATEWAY = "198.51.100.4"   # not a GTP-C peer of the operator
HOME_REALM = "epc.mnc001.mcc001.3gppnetwork.org"

CORE_LISTS = {"gtpc_peers": ["10.40.0.0/24"], "known_diameter_realms": [HOME_REALM],
              "nf_hosts": ["10.60.0.0/28"], "udm_consumers": ["10.60.0.5"]}


def pfcp_attack(opened: float, guesses: int = 12) -> list[Packet]:
    """Session deletions for guessed SEIDs with no PFCP association, each refused by the UPF
    with cause 65 (session context not found)."""
    from scapy.contrib.pfcp import (
        PFCP,
        IE_Cause,
        PFCPSessionDeletionRequest,
        PFCPSessionDeletionResponse,
    )

    packets = []
    for n in range(guesses):
        when, seid = opened + n * 0.2, 0x1000 + n
        request = PFCP(S=1, seid=seid, seq=n + 1) / PFCPSessionDeletionRequest()
        answer = PFCP(S=1, seid=0, seq=n + 1) / PFCPSessionDeletionResponse(
            IE_list=[IE_Cause(cause=65)])
        packets.append(udp(CORE_ATTACKER, UPF, 8805, 8805, bytes(request), when))
        packets.append(udp(UPF, CORE_ATTACKER, 8805, 8805, bytes(answer), when + 0.001))
    return packets


def gtpu_teid_probe(opened: float, probes: int = 25) -> list[Packet]:
    """G-PDUs to guessed TEIDs, each answered by an Error Indication (TEID data I, GSN address)."""
    from scapy.contrib.gtp import GTP_U_Header

    packets = []
    for n in range(probes):
        when, teid = opened + n * 0.1, 0x2000 + n
        probe = GTP_U_Header(gtp_type=255, teid=teid) / Raw(b"\x45" + b"\x00" * 27)
        indication = GTP_U_Header(gtp_type=26, teid=0, S=1, seq=n) / Raw(
            struct.pack(">BI", 16, teid) + struct.pack(">BH", 133, 4) + bytes([10, 30, 0, 7]))
        packets.append(udp(CORE_ATTACKER, UPF, 2152, 2152, bytes(probe), when))
        packets.append(udp(UPF, CORE_ATTACKER, 2152, 2152, bytes(indication), when + 0.001))
    return packets


def gtpv2_create_flood(opened: float, requests: int = 220) -> list[Packet]:
    """Create Session Requests from a gateway that is no peer, 5 ms apart."""
    from scapy.contrib.gtp_v2 import IE_IMSI, IE_RAT, GTPHeader, GTPV2CreateSessionRequest

    packets = []
    for n in range(requests):
        imsi = f"00101{n:010d}"
        request = GTPHeader(gtp_type=32, T=1, teid=0, seq=n + 1) / GTPV2CreateSessionRequest(
            IE_list=[IE_IMSI(IMSI=imsi), IE_RAT(RAT_type=6)])
        packets.append(udp(ROGUE_GATEWAY, SGW, 2123, 2123, bytes(request), opened + n * 0.005))
    return packets


def diameter_from_unknown_realm(opened: float) -> list[Packet]:
    """An Update-Location Request to the HSS from a realm no roaming agreement names."""
    from scapy.contrib.diameter import AVP, DiamReq

    request = DiamReq("ULR", drHbHId=1, drEtEId=1, avpList=[
        AVP("Session-Id", val="mme.rogue.example;1;1"),
        AVP("Origin-Host", val="mme.rogue.example"), AVP("Origin-Realm", val="rogue.example"),
        AVP("Destination-Realm", val=HOME_REALM), AVP("User-Name", val="001010000000001")])
    session = TcpSession(CORE_ATTACKER, HSS, 3868, 49200, opened)
    session.exchange(opened + 0.5, bytes(request))
    return session.packets


def sbi_rogue_nf(opened: float) -> list[Packet]:
    """A network function profile registered at the NRF, then subscription data read from the
    UDM, by a host that is neither a network function nor a UDM consumer (HTTP/2 cleartext)."""
    register = _h2_request(
        b":method PUT\n:path /nnrf-nfm/v1/nf-instances/6f1c2a4e-0000-4000-8000-000000000001\n"
        b":scheme http\n:authority 10.60.0.1:7777\ncontent-type application/json\n")
    read = _h2_request(
        b":method GET\n:path /nudm-sdm/v2/imsi-001010000000001/am-data\n"
        b":scheme http\n:authority 10.60.0.2:7777\n")
    to_nrf = TcpSession(CORE_ATTACKER, NRF, 7777, 49201, opened)
    to_nrf.exchange(opened + 0.5, register)
    to_udm = TcpSession(CORE_ATTACKER, UDM, 7777, 49202, opened + 1)
    to_udm.exchange(opened + 1.5, read)
    return [*to_nrf.packets, *to_udm.packets]


def _h2_request(headers: bytes) -> bytes:
    from scapy.contrib.http2 import H2Frame, H2SettingsFrame, HPackHdrTable

    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    frames = HPackHdrTable().parse_txt_hdrs(headers, stream_id=1)
    frames.frames[-1].flags.add("ES")
    return preface + bytes(H2Frame() / H2SettingsFrame()) + bytes(frames)


def write_core_attacks(path: Path) -> Path:
    """The 5G core attack capture at ``path``; see :data:`CORE_EXPECTED`."""
    packets = [*pfcp_attack(START), *gtpu_teid_probe(START + 10),
               *gtpv2_create_flood(START + 20), *diameter_from_unknown_realm(START + 30),
               *sbi_rogue_nf(START + 40)]
    wrpcap(str(path), sorted(packets, key=lambda packet: packet.time))
    return path


CORE_EXPECTED = {
    "pfcp_session_deletion_without_association", "pfcp_seid_probe",
    "gtpu_error_indication_burst", "gtpv2_request_from_unknown_peer",
    "gtpv2_create_session_flood", "diameter_unknown_realm",
    "sbi_nf_management_from_unexpected_host", "sbi_subscriber_data_from_unexpected_nf",
}


# --- NGAP / NAS: a real registration with its security mode downgraded -------------------------

SECURITY_MODE_COMMAND = bytes([0x7E, 0x00, 0x5D])   # plain 5GMM header of a Security Mode Command


def write_nas_downgrade(source: Path, path: Path) -> tuple[Path, int]:
    """``source`` (an NGAP capture) with every NAS Security Mode Command changed to select
    5G-EA0 and 5G-IA0, as a man in the middle on N2 would; the SCTP checksums are made anew.
    Returns the path and the number of commands changed."""
    from scapy.layers.sctp import SCTP
    from scapy.utils import rdpcap

    packets, changed = list(rdpcap(str(source))), 0
    for index, packet in enumerate(packets):
        raw = bytes(packet)
        offset = raw.find(SECURITY_MODE_COMMAND)
        if offset < 0 or SCTP not in packet:
            continue
        patched = raw[:offset + 3] + b"\x00" + raw[offset + 4:]
        rebuilt = packet.__class__(patched)
        del rebuilt[SCTP].chksum
        packets[index] = at(packet.__class__(bytes(rebuilt)), float(packet.time))
        changed += 1
    wrpcap(str(path), packets)
    return path, changed
