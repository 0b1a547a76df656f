"""DNP3 link frames, transport reassembly and application fragments from annotated bytes.

Frames marked "captured" are copied from the public captures named beside them (their CRCs are
the senders'); the others are built by ``frame()``, which adds CRCs with a bit-by-bit
implementation independent of the analyzer's table.
"""

from __future__ import annotations

from typing import Any

import pytest

from sensor.analyzers import dnp3
from sensor.analyzers.base import Malformed, NeedMore, Parsed


def _crc(data: bytes) -> bytes:
    crc = 0
    for byte in data:
        for bit in range(8):
            crc = (crc >> 1) ^ 0xA6BC if (crc ^ (byte >> bit)) & 1 else crc >> 1
    return (crc ^ 0xFFFF).to_bytes(2, "little")


def frame(control: int, destination: int, source: int, user_data: str = "") -> bytes:
    """A link frame with correct CRCs around ``user_data`` (hex: transport + application)."""
    data = bytes.fromhex(user_data)
    header = b"\x05\x64" + bytes([5 + len(data), control]) + \
        destination.to_bytes(2, "little") + source.to_bytes(2, "little")
    blocks = b"".join(data[i:i + 16] + _crc(data[i:i + 16]) for i in range(0, len(data), 16))
    return header + _crc(header) + blocks


def events(raw: bytes, to_server: bool = True, flow: dnp3.Dnp3Flow | None = None
           ) -> list[dict[str, Any]]:
    """The events of every frame in ``raw``, through one flow state."""
    flow = flow or dnp3.Dnp3Flow()
    out: list[dict[str, Any]] = []
    while raw:
        result = dnp3.parse_frame(raw, to_server)
        assert isinstance(result, Parsed), result
        fields = dnp3.to_event(result.pdu, flow)
        out += fields if isinstance(fields, list) else [fields]
        raw = raw[result.consumed:]
    return out


def only(raw: bytes, to_server: bool = True) -> dict[str, Any]:
    (event,) = events(raw, to_server)
    return event["dnp3"]


APPLICATION_CASES = [
    pytest.param(
        # captured: zeek dnp3_read.pcap #4 — a class 0123 read
        # 0564 start | 14 length 20 | c4 DIR PRM unconfirmed user data | 0200 dst 2 | 0300 src 3
        # 4503 header CRC | c7 transport FIR FIN seq 7 | c8 app FIR FIN seq 8 | 01 read
        # 3c02 06, 3c03 06, 3c04 06, 3c01 06: g60v2..v4, g60v1, all points | 42ac block CRC
        "0564 14c4 0200 0300 4503 c7c8 013c 0206 3c03 063c 0406 3c01 0642 ac", True,
        {"source_address": 3, "destination_address": 2, "function_code": 1,
         "function_name": "read", "is_response": False, "unsolicited": False,
         "application": {"control": 0xC8, "fir": True, "fin": True, "con": False, "uns": False,
                         "sequence": 8, "length": 14},
         "link": {"length": 20, "control": 0xC4, "dir": True, "prm": True, "fcb": False,
                  "fcv": False, "function_code": 4, "function_name": "unconfirmed_user_data"},
         "objects": {"group": [60, 60, 60, 60], "variation": [2, 3, 4, 1],
                     "qualifier": [6, 6, 6, 6], "count": [0, 0, 0, 0],
                     "range_start": [-1, -1, -1, -1], "range_stop": [-1, -1, -1, -1],
                     "name": ["class_data"] * 4},
         "transport": {"segments": 1}},
        id="read-class-data"),
    pytest.param(
        # captured: ITI cold_restart_and_response.pcap #4
        # 0564 08 c4 | 0a00 dst 10 | 0100 src 1 | fc42 | c0 FIR FIN | c0 app | 0d cold restart
        "0564 08c4 0a00 0100 fc42 c0c0 0d9c 86", True,
        {"function_code": 13, "function_name": "cold_restart", "destination_address": 10},
        id="cold-restart"),
    pytest.param(
        # captured: ITI cold_restart_and_response.pcap #6 — the response
        # 0564 0a 44 PRM | 0100 | 0a00 | 6e25 | c0 | c0 app | 81 response | 00 IIN1 | 01 IIN2
        "0564 0a44 0100 0a00 6e25 c0c0 8100 01c2 de", False,
        {"function_code": 129, "is_response": True, "iin": 0x0001,
         "iin_flags": ["no_func_code_support"]},
        id="response-iin"),
    pytest.param(
        # captured: ITI unsolcited_response_and_confirm.pcap #4
        # ... | c0 transport | f0 app FIR FIN CON UNS seq 0 | 82 unsolicited response | 0000 IIN
        "0564 0a44 0100 0a00 6e25 c0f0 8200 0044 66", False,
        {"function_code": 130, "function_name": "unsolicited_response", "unsolicited": True,
         "application": {"control": 0xF0, "fir": True, "fin": True, "con": True, "uns": True,
                         "sequence": 0, "length": 4}, "iin": 0, "iin_flags": []},
        id="unsolicited-response"),
    pytest.param(
        # captured: ITI file_read.pcap #1 — open "./testfile.txt" for reading
        # ... | e0 transport | c1 app | 19 open file | 46 03 5b g70v3, 2-byte size, 1-byte count
        # 01 count | 2800 size 40 | 1a00 name offset 26 | 0e00 name size 14 | created (6)
        # permissions (2) | authentication key (4) | file size (4) | 0100 mode read | ...
        "0564 36c4 0400 0300 f2c0"
        "e0c1 1946 035b 0128 001a 000e 0000 0000 b91c"     # 16-byte data blocks, each + CRC
        "0000 0000 0000 0000 0000 0000 0001 0000 47e6"
        "0404 002e 2f74 6573 7466 696c 652e 7478 ea02"
        "74 1dee", True,
        {"function_code": 25, "function_name": "open_file",
         "objects": {"group": [70], "variation": [3], "qualifier": [0x5B], "count": [1],
                     "range_start": [-1], "range_stop": [-1], "name": ["file_control"]},
         "file": {"object_variation": 3, "name": "./testfile.txt", "size": 0, "mode": 1,
                  "mode_name": "read"}},
        id="open-file"),
    pytest.param(
        # captured: ITI file_read.pcap #4 — the last block of the file
        # ... | 46 05 5b g70v5 | 01 | 1b00 size 27 | 78563412 handle | 00000080 block 0, last
        "0564 2b44 0300 0400 19ea"
        "e8c2 8100 0046 055b 011b 0078 5634 1200 b1b9"
        "0000 8054 6869 7320 6973 2061 2074 6573 3810"     # "This is a test file"
        "7420 6669 6c65 3eb1", False,
        {"file": {"object_variation": 5, "handle": 0x12345678, "block": 0,
                  "last_block": True}},
        id="file-transport"),
]


@pytest.mark.parametrize(("hexdump", "to_server", "expected"), APPLICATION_CASES)
def test_application_fragments_decode_to_their_fields(hexdump: str, to_server: bool,
                                                      expected: dict) -> None:
    raw = bytes.fromhex(hexdump)
    result = dnp3.parse_frame(raw, to_server)
    assert isinstance(result, Parsed) and result.consumed == len(raw)
    fields = only(raw, to_server)
    assert {key: fields.get(key) for key in expected} == expected


def test_link_frames_without_user_data_make_link_events() -> None:
    # captured: ITI DNP3-RequestLinkStatus.pcap #4 — c9: DIR PRM FCB=0 FCV=0, function 9
    fields = only(bytes.fromhex("0564 05c9 0300 0400 bd71"))
    assert fields == {"source_address": 4, "destination_address": 3, "link": {
        "length": 5, "control": 0xC9, "dir": True, "prm": True, "fcb": False, "fcv": False,
        "function_code": 9, "function_name": "request_link_status"}}
    # a secondary ACK: 00 — DIR 0, PRM 0, DFC 0, function 0
    ack = only(frame(0x00, 3, 4), to_server=False)
    assert ack["link"] | {"function_name": "ack", "dfc": False, "prm": False} == ack["link"]
    assert "function_code" not in ack


def test_data_in_a_frame_that_is_not_user_data_is_not_read_as_a_request() -> None:
    # d2: PRM, test link states (2) with a read request as data, as in conformance test 6.6.2.5
    fields = only(frame(0xD2, 1024, 1, "c0c0 013c 0106"))
    assert fields["link"]["function_name"] == "test_link_states"
    assert "function_code" not in fields


def test_two_frames_in_one_buffer_are_taken_one_at_a_time() -> None:
    raw = frame(0xC4, 10, 1, "c0c1 013c 0106") + frame(0x44, 1, 10, "c0c1 8100 00")
    first = dnp3.parse_frame(raw, True)
    assert isinstance(first, Parsed) and first.consumed == len(raw) - 17
    both = events(raw)
    assert [e["dnp3"]["function_code"] for e in both] == [1, 129]
    # the response names the request it answers (same sequence, addresses reversed)
    assert both[1]["dnp3"]["request_function_name"] == "read"


def test_a_fragment_split_over_segments_completes_on_the_last_across_the_sequence_wrap(
        ) -> None:
    # transport 7f: FIR, seq 63 — then 80: FIN, seq 0 (sequence numbers count modulo 64)
    app = "c0 81 0000 " + "1e 01 00 00 07" + "01 2a000000" * 8      # g30v1 points 0-7
    data = bytes.fromhex(app)
    first = frame(0x44, 1, 10, "7f" + data[:20].hex())
    last = frame(0x44, 1, 10, "80" + data[20:].hex())
    flow = dnp3.Dnp3Flow()
    assert events(first, False, flow) == []
    (event,) = events(last, False, flow)
    fields = event["dnp3"]
    assert fields["transport"] == {"segments": 2}
    assert fields["application"]["length"] == len(data)
    assert fields["objects"]["group"] == [30]
    assert (fields["objects"]["range_start"], fields["objects"]["range_stop"]) == ([0], [7])
    assert "objects_truncated" not in fields


def test_a_segment_out_of_sequence_drops_the_fragment_with_a_weird() -> None:
    flow = dnp3.Dnp3Flow()
    assert events(frame(0x44, 1, 10, "41 c0 81 0000"), False, flow) == []   # FIR, seq 1
    (weird,) = events(frame(0x44, 1, 10, "03 0000"), False, flow)           # seq 3, not 2
    assert weird["weird"]["name"] == "dnp3_transport_out_of_sequence"
    assert weird["event"]["dataset"] == "weird"
    assert events(frame(0x44, 1, 10, "84 0000"), False, flow) == []        # dropped to FIN
    (event,) = events(frame(0x44, 1, 10, "c5 c5 81 0000"), False, flow)    # FIR FIN: new
    assert event["dnp3"]["function_code"] == 129


def test_a_capture_that_starts_inside_a_fragment_makes_one_weird() -> None:
    flow = dnp3.Dnp3Flow()
    outputs = [e for sequence in (5, 6, 7)
               for e in events(frame(0x44, 1, 10, f"{sequence:02x} 0000"), False, flow)]
    assert [e["weird"]["name"] for e in outputs] == ["dnp3_transport_out_of_sequence"]


def test_a_fragment_longer_than_the_bound_is_dropped_with_a_weird() -> None:
    flow = dnp3.Dnp3Flow()
    chunk = "00" * 249
    outputs = events(frame(0x44, 1, 10, "40" + chunk), False, flow)         # FIR, seq 0
    for sequence in range(1, dnp3.MAX_FRAGMENT // 249 + 2):
        outputs += events(frame(0x44, 1, 10, f"{sequence % 64:02x}" + chunk), False, flow)
    # one weird; the rest of the fragment, up to its FIN, is dropped quietly
    outputs += events(frame(0x44, 1, 10, "80" + chunk), False, flow)
    assert [e["weird"]["name"] for e in outputs] == ["dnp3_fragment_too_long"]
    assert flow.channels == {}


def test_reassembly_state_is_bounded_per_flow() -> None:
    flow = dnp3.Dnp3Flow()
    for source in range(dnp3.MAX_CHANNELS + 3):
        events(frame(0x44, 1, source, "40 c0 81"), False, flow)             # FIR, no FIN
    assert len(flow.channels) == dnp3.MAX_CHANNELS


def test_a_bad_crc_makes_a_weird_and_the_next_frame_still_decodes() -> None:
    good = frame(0xC4, 10, 1, "c0c1 013c 0106")
    bad_header = bytearray(good)
    bad_header[8] ^= 0xFF                                   # header CRC
    bad_data = bytearray(good)
    bad_data[-3] ^= 0x01                                    # last byte of the data block
    for damaged, where in ((bad_header, "header block"), (bad_data, "data block")):
        first, second = events(bytes(damaged) + good)
        assert first["weird"] == {"name": "dnp3_bad_crc", "analyzer": "dnp3", "detail": where}
        assert second["dnp3"]["function_code"] == 1


def test_bytes_before_a_frame_are_skipped_with_a_weird() -> None:
    # captured: conformance 6.6.2.3 — a frame with length 5 followed by 14 bytes of data
    raw = bytes.fromhex("0564 05c4 0104 0100 27b9" "c0c0 013c 0206 3c03 063c 0406 9e30")
    skipped = dnp3.parse_frame(raw[10:] + frame(0xC4, 1, 2), True)
    assert isinstance(skipped, Parsed) and skipped.pdu == dnp3.Junk(14)
    assert skipped.consumed == 14
    link, weird = events(raw)
    assert link["dnp3"]["link"]["function_code"] == 4
    assert weird["weird"] | {"name": "dnp3_bad_start", "detail": "skipped 14 bytes"} == \
        weird["weird"]


@pytest.mark.parametrize(("hexdump", "outcome"), [
    ("05", NeedMore(10)),                                   # start bytes cut short
    ("0564 14c4 0200", NeedMore(10)),                       # header cut short
    ("0564 14c4 0200 0300 4503 c7c8", NeedMore(27)),        # 15 bytes of data + 1 CRC
    ("0564 04c4 0200 0300 0000", Malformed(dnp3.Anomaly.BAD_LENGTH)),  # length below 5
    ("0564 00", Malformed(dnp3.Anomaly.BAD_LENGTH)),
])
def test_incomplete_and_malformed_headers(hexdump: str, outcome: object) -> None:
    assert dnp3.parse_frame(bytes.fromhex(hexdump), True) == outcome


@pytest.mark.parametrize(("body", "expected"), [
    # g1v2 (1 byte each) points 3-5 by 8-bit start/stop, then g20v1 count 1 (5 bytes)
    ("0102 00 03 05 818181 1401 07 01 0100000000",
     {"group": [1, 20], "count": [3, 1], "range_start": [3, -1], "range_stop": [5, -1]}),
    # g1v1 packed: points 0-9 in 2 bytes, then g80v1 index 7 (a single 8-bit address)
    ("0101 00 00 09 ff03 5001 03 07 00",
     {"group": [1, 80], "count": [10, 1], "range_start": [0, 7], "range_stop": [9, 7]}),
    # g12v1 CROB with a 1-byte index prefix and 1-byte count (qualifier 0x17): index 5
    ("0c01 17 01 05 03 01 64000000 64000000 00",
     {"group": [12], "qualifier": [0x17], "count": [1]}),
    # g2v2 events by 2-byte index prefix and 2-byte count (qualifier 0x28): 2 of 7 bytes
    ("0202 28 0200 0100 81 000000000000 0200 01 000000000000",
     {"group": [2], "qualifier": [0x28], "count": [2]}),
    # g0 device attributes 252 by 8-bit start/stop: type 1 (string), length 3, "abc"
    ("00fc 00 fc fc 01 03 616263",
     {"group": [0], "variation": [252], "count": [1]}),
])
def test_object_headers_are_walked_over_their_data(body: str, expected: dict) -> None:
    objects, truncated, _ = dnp3.parse_objects(bytes.fromhex(body), 129)
    arrays = dnp3._object_arrays(objects)
    assert {key: arrays[key] for key in expected} == expected
    assert not truncated


@pytest.mark.parametrize(("body", "groups"), [
    ("1e01 00 00 05 0100", [30]),            # g30v1 points 0-5 need 30 bytes; 2 remain
    ("5601 5b", [86]),                        # qualifier without its count
    ("ee01 07 01 00", [238]),                 # an unknown object: its size is unknown
    ("0c01 00 05 03", [12]),                  # stop below start - 1
    ("3c", []),                               # one byte: not even a group and variation
])
def test_object_headers_that_cannot_be_walked_are_flagged(body: str, groups: list) -> None:
    objects, truncated, _ = dnp3.parse_objects(bytes.fromhex(body), 129)
    assert [o.group for o in objects] == groups
    assert truncated


def test_requests_that_name_points_carry_no_object_data() -> None:
    # read: g30v1 points 0-5, then g60v1 — no data between them
    objects, truncated, _ = dnp3.parse_objects(bytes.fromhex("1e01 00 00 05 3c01 06"), 1)
    assert [(o.group, o.count) for o in objects] == [(30, 6), (60, 0)] and not truncated


def test_a_restart_response_reports_its_time_delay() -> None:
    # 81 response | 0000 IIN | 3401 07 01 g52v1 count 1 | 0500: 5 s
    fields = only(frame(0x44, 1, 10, "c0 c0 81 0000 3401 07 01 0500"), to_server=False)
    assert fields["time_delay_ms"] == 5000


@pytest.mark.parametrize(("hexdump", "verdict"), [
    ("0564 05c9 0300 0400 bd71", True),
    ("0564 04", False),                        # a length below 5
    ("1603 0100 2e01 0000", False),            # a TLS record on port 20000
    ("0564", None),                            # too short to tell
    ("05", None),
    ("16", False),
])
def test_probe(hexdump: str, verdict: bool | None) -> None:
    assert dnp3.probe(bytes.fromhex(hexdump)) is verdict


def test_the_crc_matches_a_captured_frame() -> None:
    # captured: zeek dnp3_read.pcap #4 — header CRC 4503 (tshark: 0x0345, correct)
    assert dnp3.crc16(bytes.fromhex("0564 14c4 0200 0300")).to_bytes(2, "little") == \
        bytes.fromhex("4503")
    assert _crc(bytes.fromhex("0564 14c4 0200 0300")) == bytes.fromhex("4503")
