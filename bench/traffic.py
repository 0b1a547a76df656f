"""What synthetic flows do: seeded scripts of steps (time, direction, TCP flags, payload size).

The mix has the usual shape of mobile traffic: many DNS lookups and short web fetches, QUIC, a
few video downloads carrying most of the bytes, chatty IoT sessions and some voice (RTP every
20 ms). Nothing here builds bytes; :mod:`bench.frames` does.

>>> script = dns(random.Random(1))
>>> script.kind, script.proto, [step[1] for step in script.steps]
('dns', 17, [0, 1])
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

UP, DOWN = 0, 1                    # client (the UE) → server, server → client
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MSS = 1380                         # inner TCP segments that fit a 1500-byte N3 MTU after GTP-U
QUIC_DATAGRAM = 1250
Step = tuple[int, int, int, int]   # (µs after the flow starts, direction, TCP flags, payload bytes)


@dataclass(frozen=True, slots=True)
class Script:
    kind: str
    proto: int          # 6 TCP, 17 UDP
    server_port: int
    steps: list[Step]
    qfi: int = 9        # QoS flow: 9 best effort, 1 conversational voice

    @property
    def duration_us(self) -> int:
        return max(step[0] for step in self.steps)


Maker = Callable[[random.Random], Script]


def dns(rng: random.Random) -> Script:
    answer_after = rng.randint(5_000, 40_000)
    steps = [(0, UP, 0, rng.randint(28, 60)), (answer_after, DOWN, 0, rng.randint(60, 260))]
    return Script("dns", 17, 53, steps)


def web(rng: random.Random) -> Script:
    exchanges = [(rng.randint(200, 900), _heavy_tail(rng, 1_500, 2_000_000))
                 for _ in range(rng.randint(1, 4))]
    return Script("web", 6, 443, _tcp(rng, exchanges, think=(20_000, 2_000_000)))


def video(rng: random.Random) -> Script:
    chunks = [(rng.randint(300, 700), rng.randint(100_000, 600_000))
              for _ in range(rng.randint(1, 4))]
    return Script("video", 6, 443, _tcp(rng, chunks, think=(500_000, 4_000_000)))


def iot(rng: random.Random) -> Script:
    exchanges = [(rng.randint(20, 200), rng.randint(4, 60)) for _ in range(rng.randint(3, 8))]
    return Script("iot", 6, 8883, _tcp(rng, exchanges, think=(5_000_000, 15_000_000)))


def quic(rng: random.Random) -> Script:
    rtt = _rtt(rng)
    steps: list[Step] = [(0, UP, 0, QUIC_DATAGRAM)]
    size = _heavy_tail(rng, 3_000, 3_000_000)
    _stream(steps, rng, rtt, size, rng.uniform(5e6, 80e6))
    return Script("quic", 17, 443, steps)


def voice(rng: random.Random) -> Script:
    """RTP both ways every 20 ms, 5 to 20 s, on the conversational QoS flow."""
    lag = rng.randint(0, 20_000)
    steps: list[Step] = []
    for tick in range(0, 20_000 * rng.randint(250, 1_000), 20_000):
        steps.append((tick + rng.randint(0, 2_000), UP, 0, rng.randint(60, 110)))
        steps.append((tick + lag + rng.randint(0, 2_000), DOWN, 0, rng.randint(60, 110)))
    return Script("voice", 17, 2 * rng.randint(15_000, 19_999), steps, qfi=1)


USER_PLANE_MIX: Sequence[tuple[Maker, float]] = (
    (dns, 0.25), (web, 0.45), (quic, 0.15), (iot, 0.125), (video, 0.02), (voice, 0.005))
PLAIN_MIX: Sequence[tuple[Maker, float]] = ((dns, 0.3), (web, 0.5), (iot, 0.15), (video, 0.05))


def draw(rng: random.Random, mix: Sequence[tuple[Maker, float]]) -> Script:
    makers = [maker for maker, _ in mix]
    chosen = rng.choices(makers, [weight for _, weight in mix])[0]
    return chosen(rng)


def _rtt(rng: random.Random) -> int:
    return rng.randint(15_000, 80_000)   # radio plus internet round trip, as seen on N3


def _heavy_tail(rng: random.Random, typical: int, cap: int) -> int:
    return min(int(typical * rng.paretovariate(1.2)), cap)


def _tcp(rng: random.Random, exchanges: list[tuple[int, int]],
         think: tuple[int, int]) -> list[Step]:
    """Handshake, request/response exchanges, then a FIN or RST close (or none: still open)."""
    rtt = _rtt(rng)
    rate = rng.uniform(5e6, 80e6)   # bit/s this download gets
    steps: list[Step] = [(0, UP, SYN, 0), (rtt, DOWN, SYN | ACK, 0), (rtt + 300, UP, ACK, 0)]
    t = rtt + 300
    for request, response in exchanges:
        t += rng.randint(100, 2_000) if len(steps) == 3 else rng.randint(*think)
        steps.append((t, UP, PSH | ACK, request))
        t = _download(steps, rng, t + rtt, response, rate)
    steps += _close(rng, t + rng.randint(1_000, 500_000), rtt)
    return steps


def _download(steps: list[Step], rng: random.Random, t: int, size: int, rate: float) -> int:
    """MSS-sized segments down, a delayed ACK up every second segment."""
    gap = MSS * 8 / rate * 1e6
    sizes = [MSS] * (size // MSS) + ([size % MSS] if size % MSS else [])
    for i, length in enumerate(sizes):
        t += int(gap * (0.5 + rng.random()))
        last = i == len(sizes) - 1
        steps.append((t, DOWN, ACK | (PSH if last else 0), length))
        if i % 2 or last:
            steps.append((t + rng.randint(50, 200), UP, ACK, 0))
    return t


def _close(rng: random.Random, t: int, rtt: int) -> list[Step]:
    roll = rng.random()
    if roll < 0.7:
        return [(t, UP, FIN | ACK, 0), (t + rtt, DOWN, FIN | ACK, 0), (t + rtt + 300, UP, ACK, 0)]
    if roll < 0.8:
        return [(t, DOWN, RST | ACK, 0)]
    return []


def _stream(steps: list[Step], rng: random.Random, t: int, size: int, rate: float) -> None:
    """Datagrams down, a small acknowledgement up every fourth."""
    gap = QUIC_DATAGRAM * 8 / rate * 1e6
    for i in range(max(2, size // QUIC_DATAGRAM)):
        t += int(gap * (0.5 + rng.random()))
        steps.append((t, DOWN, 0, QUIC_DATAGRAM))
        if i % 4 == 3:
            steps.append((t + rng.randint(50, 200), UP, 0, rng.randint(40, 60)))
