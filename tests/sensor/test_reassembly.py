"""TCP stream ordering: out of order, retransmitted, overlapping and lost segments."""

from __future__ import annotations

from sensor.reassembly import MAX_PENDING_BYTES, TcpStream


def joined(chunks: list[tuple[bytes, int]]) -> bytes:
    return b"".join(data for data, _ in chunks)


def test_out_of_order_segments_come_out_in_order_with_the_frame_that_completed_them() -> None:
    stream = TcpStream()
    stream.start(99)
    assert stream.add(105, b"world", frame=2) == []
    assert stream.add(100, b"hello", frame=3) == [(b"hello", 3), (b"world", 2)]


def test_retransmitted_bytes_are_delivered_once() -> None:
    stream = TcpStream()
    stream.start(0)
    assert joined(stream.add(1, b"abcd", 1)) == b"abcd"
    assert stream.add(1, b"abcd", 2) == []
    assert joined(stream.add(3, b"cdef", 3)) == b"ef"


def test_sequence_numbers_wrap_around() -> None:
    stream = TcpStream()
    stream.start(2**32 - 3)
    assert joined(stream.add(2**32 - 2, b"ab", 1)) == b"ab"
    assert joined(stream.add(0, b"cd", 2)) == b"cd"


def test_a_lost_segment_is_reported_as_a_gap_once_the_buffer_is_full() -> None:
    stream = TcpStream()
    stream.start(0)
    chunk = b"x" * 1024
    out: list[tuple[bytes, int]] = []
    seq = 10_001  # bytes 1..10000 never arrive
    for frame in range(MAX_PENDING_BYTES // len(chunk) + 2):
        out += stream.add(seq, chunk, frame)
        seq += len(chunk)
    assert out[0] == (b"", 0)  # the gap marker comes before the data after it
    assert stream.gaps == 1
    assert len(joined(out)) >= MAX_PENDING_BYTES
    assert stream.pending_bytes < MAX_PENDING_BYTES
