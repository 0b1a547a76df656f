"""The batch decoder agrees with the per-packet decoder (dpkt) on every public capture, and
never fails on garbage."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensor.capture import RECORD, CaptureFile, FrameBlock
from sensor.columnar import NOT_IP, OK, SLOW, decode_block
from sensor.decode import decode
from sensor.flows import address, address_text
from tests.utils.pcaps import PCAPS, manifest

ROWS = manifest()


def endpoints(key: bytes, a_is_src: bool) -> tuple[tuple[str, int], tuple[str, int]]:
    a = (address_text(address(key[0:16])), int.from_bytes(key[32:34], "big"))
    b = (address_text(address(key[16:32])), int.from_bytes(key[34:36], "big"))
    return (a, b) if a_is_src else (b, a)


def normal(text: str) -> str:
    family = socket.AF_INET6 if ":" in text else socket.AF_INET
    return socket.inet_ntop(family, socket.inet_pton(family, text))


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_batch_decoding_agrees_with_dpkt(row: dict[str, str]) -> None:
    decoded = disagreements = 0
    for block in CaptureFile(PCAPS / row["path"]).blocks(8192):
        cols = decode_block(np.frombuffer(block.buf, np.uint8), block.records)
        keys = cols.key.tobytes()
        for i in np.flatnonzero(cols.status == OK).tolist():
            if cols.tunnel[i]:
                continue  # dpkt does not look inside GTP-U
            packet = decode(block.frame(i))
            if packet.malformed:
                continue  # dpkt gave up where the batch decoder only needs the common header
            ours = endpoints(keys[i * 40:(i + 1) * 40], bool(cols.a_is_src[i]))
            theirs = ((normal(packet.src), packet.sport), (normal(packet.dst), packet.dport))
            same = (ours == theirs and packet.proto == cols.proto[i]
                    and packet.tcp_flags == cols.tcp_flags[i])
            if packet.proto in (6, 17):
                start, length = int(cols.pay_off[i]), int(cols.pay_len[i])
                same = same and bytes(packet.payload) == block.buf[start:start + length]
            decoded += 1
            disagreements += not same
        for i in np.flatnonzero(cols.status == NOT_IP).tolist():
            assert decode(block.frame(i)).proto < 0
    assert disagreements == 0, f"{disagreements} of {decoded} packets decode differently"


@settings(max_examples=300, deadline=None)
@given(frames=st.lists(st.binary(max_size=200), min_size=1, max_size=20),
       linktype=st.sampled_from([0, 1, 101, 113, 228, 229, 276, 147]))
def test_random_frames_never_break_the_batch_decoder(frames: list[bytes], linktype: int) -> None:
    records = np.zeros(len(frames), RECORD)
    records["caplen"] = [len(f) for f in frames]
    records["offset"][1:] = np.cumsum(records["caplen"])[:-1]
    records["linktype"] = linktype
    block = FrameBlock(b"".join(frames), records)
    cols = decode_block(np.frombuffer(block.buf, np.uint8), records)
    assert set(cols.status.tolist()) <= {OK, NOT_IP, SLOW}
    ok = cols.status == OK
    frame_end = records["offset"] + records["caplen"]
    assert (cols.pay_off[ok] + cols.pay_len[ok] <= frame_end[ok]).all()
    assert (cols.pay_len[ok] >= 0).all()


def test_gtpu_inner_packets_carry_teid_and_qfi() -> None:
    gtp = [Path(PCAPS / r["path"]) for r in ROWS if "gtpv1-u" in r["protocols_found"]]
    tunnelled = qfi = 0
    for path in gtp:
        for block in CaptureFile(path).blocks(8192):
            cols = decode_block(np.frombuffer(block.buf, np.uint8), block.records)
            tunnelled += int(cols.tunnel.sum())
            qfi += int((cols.qfi[cols.tunnel] != 255).sum())
            assert (cols.teid[cols.tunnel] > 0).any() or not cols.tunnel.any()
    assert tunnelled > 100 and qfi > 0
