"""TCP stream ordering: out of order, retransmitted, overlapping and lost segments."""

from __future__ import annotations

from sensor.reassembly import MAX_PENDING_BYTES, Chunk, TcpStream


def joined(chunks: list[Chunk]) -> bytes:
    return b"".join(chunk.data for chunk in chunks)


def test_out_of_order_segments_come_out_in_order_when_the_hole_is_filled() -> None:
    stream = TcpStream()
    stream.start(99)
    assert stream.add(105, b"world", frame=1) == []
    assert stream.add(100, b"hello", frame=2) == [(b"hello", 2), (b"world", 2)]


def test_retransmitted_bytes_are_delivered_once() -> None:
    stream = TcpStream()
    stream.start(0)
    assert joined(stream.add(1, b"abcd")) == b"abcd"
    assert stream.add(1, b"abcd") == []
    assert joined(stream.add(3, b"cdef")) == b"ef"


def test_sequence_numbers_wrap_around() -> None:
    stream = TcpStream()
    stream.start(2**32 - 3)
    assert joined(stream.add(2**32 - 2, b"ab")) == b"ab"
    assert joined(stream.add(0, b"cd")) == b"cd"


def test_a_lost_segment_is_reported_as_a_gap_once_the_buffer_is_full() -> None:
    stream = TcpStream()
    stream.start(0)
    chunk = b"x" * 1024
    out: list[bytes] = []
    seq = 10_001  # bytes 1..10000 never arrive
    for _ in range(MAX_PENDING_BYTES // len(chunk) + 2):
        out += stream.add(seq, chunk)
        seq += len(chunk)
    assert out[0].data == b""  # the gap marker comes before the data after it
    assert stream.gaps == 1
    assert len(joined(out)) >= MAX_PENDING_BYTES
    assert stream.pending_bytes < MAX_PENDING_BYTES


def test_data_held_behind_an_acknowledged_hole_keeps_the_frames_that_carried_it() -> None:
    stream = TcpStream()
    stream.start(0)
    assert stream.add(11, b"first", frame=5) == []     # bytes 1..10 were never captured
    assert stream.add(16, b"second", frame=6) == []
    assert stream.acknowledged(22, frame=7) == [(b"", 7), (b"first", 5), (b"second", 6)]
    assert stream.gaps == 1 and stream.pending_bytes == 0


def test_an_acknowledged_fin_is_not_a_gap() -> None:
    stream = TcpStream()
    stream.start(0)
    stream.add(1, b"data", frame=1)
    assert stream.acknowledged(6, frame=2) == []   # 5 bytes + the FIN
    assert stream.gaps == 0
