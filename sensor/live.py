"""Live capture from network interfaces: AF_PACKET sockets with a TPACKET_V3 ring in shared memory.

Each interface gets one socket whose receive ring is mapped into the process. The kernel fills
blocks of packets and hands a block over when it is full or when the block timeout has passed;
:class:`LiveCapture` polls all its sockets together and yields the frames of one block at a time,
so the sensor sees batches without a system call per packet. A block is copied out of the ring
in one piece and indexed by a compiled loop into a :class:`FrameBlock`, the columns the sensor
decodes: no Python object per packet.

A capture filter is a tcpdump-style expression, compiled to classic BPF by libpcap (loaded with
ctypes; Debian's ``libpcap0.8``) and attached to each socket before it is bound, so no packet
outside the filter reaches the ring. The kernel strips VLAN tags before the filter runs: ``tcp
port 502`` matches tagged and untagged traffic alike, and tags are put back into the frames.

Errors: :class:`LiveCaptureError` (an interface that cannot be captured on, with its name and the
reason), and its subclass :class:`BpfError` (a filter that does not compile).

>>> compile_bpf("tcp port 502")[:8].hex()  # the first instruction loads the EtherType
'280000000c000000'
>>> try:
...     compile_bpf("tcp portt 502")
... except BpfError as exc:
...     print(exc)
bad BPF filter 'tcp portt 502': can't parse filter expression: syntax error
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import functools
import logging
import mmap
import os
import selectors
import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from sensor.capture import RECORD, Frame, FrameBlock, _u32
from sensor.kernels import njit

log = logging.getLogger(__name__)

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC = 1, 1
PACKET_RX_RING, PACKET_STATISTICS, PACKET_VERSION, TPACKET_V3 = 5, 6, 10, 2
SO_ATTACH_FILTER = 26
SIOCGIFHWADDR = 0x8927
TP_STATUS_KERNEL, TP_STATUS_USER = 0, 1
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40
PCAP_NETMASK_UNKNOWN = 0xFFFFFFFF
LINKTYPE_ETHERNET, LINKTYPE_RAW = 1, 101

# ARPHRD_* of the interface -> (pcap link type of the frames, libpcap DLT to compile filters for)
LINK_TYPES = {1: (LINKTYPE_ETHERNET, 1), 772: (LINKTYPE_ETHERNET, 1),
              519: (LINKTYPE_RAW, 12), 0xFFFE: (LINKTYPE_RAW, 12)}

# tpacket_hdr_v1 (at offset 8 of a block): block_status, num_pkts, offset_to_first_pkt, blk_len
_BLOCK = struct.Struct("<IIII")
# tpacket3_hdr: next_offset, sec, nsec, snaplen, len, status, mac, (net, rxhash), vlan_tci, tpid
_PACKET = struct.Struct("<IIIIIIH2x4xIH")
_STATUS = struct.Struct("<I")
# tpacket_stats_v3: packets, drops, freeze_q_cnt
_STATS = struct.Struct("<III")


class LiveCaptureError(Exception):
    """An interface that cannot be captured on; ``str()`` names it and says why."""


class BpfError(LiveCaptureError):
    """A capture filter that libpcap cannot compile."""


@dataclass(slots=True)
class InterfaceStats:
    received: int = 0   # packets read from the ring
    bytes: int = 0      # their length on the wire
    dropped: int = 0    # packets the kernel dropped because the ring was full
    seen: int = 0       # packets the kernel took (past the filter), dropped ones included

    def pending(self) -> int:
        """Packets the kernel took, as of the last refresh, that are not read yet."""
        return self.seen - self.dropped - self.received


@dataclass(frozen=True, slots=True)
class RingGeometry:
    """The shape of one interface's ring: ``block_nr`` blocks of ``block_size`` bytes."""

    block_size: int = 1 << 20
    block_nr: int = 64
    timeout_ms: int = 100
    frame_size: int = 2048  # only checked by the kernel for TPACKET_V3; packets are packed

    @classmethod
    def sized(cls, ring_mb: int, timeout_ms: int) -> RingGeometry:
        return cls(block_nr=max(1, ring_mb), timeout_ms=timeout_ms)

    def request(self) -> bytes:
        """The ``tpacket_req3`` for ``PACKET_RX_RING``."""
        frame_nr = self.block_size // self.frame_size * self.block_nr
        return struct.pack("7I", self.block_size, self.block_nr, self.frame_size, frame_nr,
                           self.timeout_ms, 0, 0)


class _BpfInsn(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint32)]


class _BpfProgram(ctypes.Structure):
    _fields_ = [("bf_len", ctypes.c_uint), ("bf_insns", ctypes.POINTER(_BpfInsn))]


@functools.cache
def _libpcap() -> ctypes.CDLL:
    names = (ctypes.util.find_library("pcap"), "libpcap.so.0.8", "libpcap.so.1")
    for name in filter(None, names):
        try:
            return _declare(ctypes.CDLL(name))
        except OSError:
            continue
    raise BpfError("capture filters need libpcap (Debian package libpcap0.8), not found")


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    lib.pcap_open_dead.restype = ctypes.c_void_p
    lib.pcap_open_dead.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.pcap_compile.argtypes = [ctypes.c_void_p, ctypes.POINTER(_BpfProgram), ctypes.c_char_p,
                                 ctypes.c_int, ctypes.c_uint32]
    lib.pcap_geterr.restype = ctypes.c_char_p
    lib.pcap_geterr.argtypes = [ctypes.c_void_p]
    lib.pcap_freecode.argtypes = [ctypes.POINTER(_BpfProgram)]
    lib.pcap_close.argtypes = [ctypes.c_void_p]
    return lib


def compile_bpf(expression: str, dlt: int = 1, snaplen: int = 262144) -> bytes:
    """Compile a tcpdump-style expression to classic BPF: 8-byte ``sock_filter`` instructions."""
    lib = _libpcap()
    handle = lib.pcap_open_dead(dlt, snaplen)
    if not handle:
        raise BpfError("libpcap could not open a handle to compile the filter")
    program = _BpfProgram()
    try:
        if lib.pcap_compile(handle, ctypes.byref(program), expression.encode(), 1,
                            PCAP_NETMASK_UNKNOWN) != 0:
            reason = (lib.pcap_geterr(handle) or b"").decode(errors="replace")
            raise BpfError(f"bad BPF filter {expression!r}: {' '.join(reason.split())}")
        code = ctypes.string_at(program.bf_insns, program.bf_len * ctypes.sizeof(_BpfInsn))
        lib.pcap_freecode(ctypes.byref(program))
        return code
    finally:
        lib.pcap_close(handle)


def _attach_filter(sock: socket.socket, code: bytes) -> None:
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HP", len(code) // 8, ctypes.addressof(buffer))  # struct sock_fprog
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def _link_type(sock: socket.socket, name: str) -> tuple[int, int]:
    ifreq = fcntl.ioctl(sock, SIOCGIFHWADDR, struct.pack("16s16x", name.encode()))
    arphrd = struct.unpack_from("H", ifreq, 16)[0]
    if arphrd not in LINK_TYPES:
        raise LiveCaptureError(f"{name}: link type {arphrd} (ARPHRD) is not supported; "
                               "capture on an Ethernet interface")
    return LINK_TYPES[arphrd]


def _promiscuous(sock: socket.socket, ifindex: int) -> None:
    mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
    sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)


def _reason(name: str, exc: OSError) -> LiveCaptureError:
    if isinstance(exc, PermissionError):
        return LiveCaptureError(f"{name}: live capture needs root or CAP_NET_RAW")
    if exc.errno in (errno.ENODEV, errno.ENXIO):
        return LiveCaptureError(f"{name}: no such interface")
    return LiveCaptureError(f"{name}: {exc.strerror or exc}")


@njit(cache=True, nogil=True)
def _index_ring(block, pos, number, numbers, ts_ns, wire_lens, offsets, caplens):
    """Index the packets of a TPACKET_V3 block (``tpacket3_hdr`` each, the first at ``pos``)
    into the columns; returns (packets indexed, whether any had its VLAN tag taken out).
    A packet whose header or data would pass the end of the block ends the indexing."""
    end, tagged, count = len(block), False, 0
    while count < len(numbers) and pos + 28 <= end:
        snaplen = np.int64(_u32(block, pos + 12, False))
        mac = np.int64(block[pos + 24]) | (np.int64(block[pos + 25]) << 8)
        if pos + mac + snaplen > end:
            break
        numbers[count] = number + count + 1
        ts_ns[count] = (np.int64(_u32(block, pos + 4, False)) * 1_000_000_000
                        + np.int64(_u32(block, pos + 8, False)))
        wire_lens[count] = _u32(block, pos + 16, False)
        offsets[count] = pos + mac
        caplens[count] = snaplen
        tagged |= (_u32(block, pos + 20, False) & TP_STATUS_VLAN_VALID) != 0
        count += 1
        step = np.int64(_u32(block, pos, False))
        if step == 0:
            break
        pos += step
    return count, tagged


def _retagged(block: bytes, pos: int, indexed: FrameBlock) -> list[Frame]:
    """The frames of ``indexed`` with the 802.1Q tags the kernel took out put back."""
    frames = []
    for i in range(len(indexed)):
        frame = indexed.frame(i)
        step, _sec, _nsec, _snap, _len, status, _mac, tci, tpid = _PACKET.unpack_from(block, pos)
        if status & TP_STATUS_VLAN_VALID:
            tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100
            data = frame.data[:12] + struct.pack("!HH", tpid, tci) + frame.data[12:]
            frame = Frame(frame.number, frame.ts_ns, frame.linktype, frame.wire_len + 4, data)
        frames.append(frame)
        pos += step
    return frames


class RingSocket:
    """One interface: an AF_PACKET socket with a TPACKET_V3 receive ring mapped into memory.

    The socket is bound only once the filter is attached and the ring mapped, so nothing
    unfiltered is ever captured. Frames are numbered 1, 2, ... per interface.
    """

    def __init__(self, name: str, geometry: RingGeometry, bpf: str | None = None) -> None:
        self.name, self.geometry, self.stats = name, geometry, InterfaceStats()
        self.link_down = False
        self._block = 0
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # no packets before bind
        try:
            self._setup(bpf)
        except BaseException:
            self._sock.close()
            raise

    def _setup(self, bpf: str | None) -> None:
        sock, name = self._sock, self.name
        self.linktype, dlt = _link_type(sock, name)
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        if bpf:
            _attach_filter(sock, compile_bpf(bpf, dlt))
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, self.geometry.request())
        size = self.geometry.block_size * self.geometry.block_nr
        self._ring = mmap.mmap(sock.fileno(), size, mmap.MAP_SHARED,
                               mmap.PROT_READ | mmap.PROT_WRITE)
        self.ifindex = socket.if_nametoindex(name)
        _promiscuous(sock, self.ifindex)
        sock.bind((name, ETH_P_ALL))

    def fileno(self) -> int:
        return self._sock.fileno()

    def read_block(self) -> FrameBlock | None:
        """The frames of the next block if the kernel has handed it over, else ``None``."""
        size = self.geometry.block_size
        base = self._block * size
        status, count, first, length = _BLOCK.unpack_from(self._ring, base + 8)
        if not status & TP_STATUS_USER:
            return None
        self.link_down = False
        try:
            return self._frames(self._ring[base:base + (length if 0 < length <= size else size)],
                                first, count)
        finally:
            _STATUS.pack_into(self._ring, base + 8, TP_STATUS_KERNEL)  # back to the kernel
            self._block = (self._block + 1) % self.geometry.block_nr

    def _frames(self, block: bytes, first: int, count: int) -> FrameBlock:
        records = np.zeros(count, dtype=RECORD)
        records["linktype"] = self.linktype
        indexed, tagged = _index_ring(np.frombuffer(block, np.uint8), first, self.stats.received,
                                      records["number"], records["ts_ns"], records["wire_len"],
                                      records["offset"], records["caplen"])
        frames = FrameBlock(block, records[:indexed])
        if tagged and self.linktype == LINKTYPE_ETHERNET:
            frames = FrameBlock.from_frames(_retagged(block, first, frames))
        self.stats.received += len(frames)
        self.stats.bytes += int(frames.records["wire_len"].sum())
        return frames

    def refresh_stats(self) -> None:
        """Add the kernel's counts since the last call (reading them resets them)."""
        raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size)
        seen, dropped, _frozen = _STATS.unpack(raw)
        self.stats.seen += seen
        self.stats.dropped += dropped

    def check(self) -> None:
        """Raise on a socket error. A link that went down is waited for (the kernel resumes
        capture when it comes back up); an interface that is gone is an error."""
        code = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code == errno.ENETDOWN and not self.link_down:
            log.warning("%s: the link went down; waiting for it to come back", self.name)
            self.link_down = True
        elif code and code != errno.ENETDOWN:
            raise LiveCaptureError(f"{self.name}: {os.strerror(code)}")
        if self.link_down and not self._exists():
            raise LiveCaptureError(f"{self.name}: the interface is gone")

    def _exists(self) -> bool:
        try:
            return socket.if_indextoname(self.ifindex) == self.name
        except OSError:
            return False

    def close(self) -> None:
        ring = getattr(self, "_ring", None)
        if ring is not None:
            ring.close()
        self._sock.close()


_NO_FRAMES = FrameBlock(b"", np.zeros(0, dtype=RECORD))


class LiveCapture:
    """Several interfaces polled together; their frames come out one ring block at a time.

    ``batches(stop)`` runs until ``stop`` is set, then drains what the kernel had taken in by
    then (its counters say how much) and ends.
    """

    def __init__(self, rings: Sequence[RingSocket], poll_timeout: float = 0.25,
                 drain_limit_s: float = 2.0) -> None:
        self.rings = list(rings)
        self.poll_timeout, self.drain_limit_s = poll_timeout, drain_limit_s
        self._selector = selectors.DefaultSelector()
        for ring in self.rings:
            self._selector.register(ring, selectors.EVENT_READ, ring)

    @classmethod
    def open(cls, interfaces: Sequence[str], bpf: str | None, ring_mb: int,
             block_timeout_ms: int) -> LiveCapture:
        """Open every interface (all or none); :class:`LiveCaptureError` says which failed."""
        for name in {n for n in interfaces if interfaces.count(n) > 1}:
            raise LiveCaptureError(f"{name}: the interface is named more than once")
        geometry = RingGeometry.sized(ring_mb, block_timeout_ms)
        rings: list[RingSocket] = []
        try:
            for name in interfaces:
                rings.append(_open_ring(name, geometry, bpf))
        except BaseException:
            for ring in rings:
                ring.close()
            raise
        return cls(rings)

    @property
    def stats(self) -> dict[str, InterfaceStats]:
        return {ring.name: ring.stats for ring in self.rings}

    def refresh_stats(self) -> None:
        for ring in self.rings:
            ring.refresh_stats()

    def batches(self, stop: threading.Event) -> Iterator[FrameBlock]:
        """Blocks of frames; an empty block whenever a poll timed out, so callers can tick."""
        while not stop.is_set():
            blocks = self._ready_blocks()
            if blocks:
                yield from blocks
            else:
                self._wait(self.poll_timeout)
                yield _NO_FRAMES
        yield from self._drain()

    def _ready_blocks(self) -> list[FrameBlock]:
        blocks = (ring.read_block() for ring in self.rings)
        return [block for block in blocks if block is not None]

    def _wait(self, timeout: float) -> None:
        ready = {key.data for key, _ in self._selector.select(timeout)}
        for ring in self.rings:
            if ring in ready or ring.link_down:
                ring.check()

    def _drain(self) -> Iterator[FrameBlock]:
        """What the kernel had taken in when the stop came, as its blocks are handed over (a
        partly filled one within two block timeouts); never longer than ``drain_limit_s``."""
        self.refresh_stats()
        deadline = time.monotonic() + self.drain_limit_s
        while any(ring.stats.pending() > 0 for ring in self.rings):
            if (left := deadline - time.monotonic()) <= 0:
                return
            blocks = self._ready_blocks()
            yield from blocks
            if not blocks:
                time.sleep(min(left, 0.02))

    def close(self) -> None:
        self._selector.close()
        for ring in self.rings:
            ring.close()

    def __enter__(self) -> LiveCapture:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _open_ring(name: str, geometry: RingGeometry, bpf: str | None) -> RingSocket:
    try:
        return RingSocket(name, geometry, bpf)
    except LiveCaptureError:
        raise
    except OSError as exc:
        raise _reason(name, exc) from exc
